#!/usr/bin/env bash
# Knative on the local cluster (issue 13): Serving v0.42.2 with the HPA-class autoscaler, Eventing
# core v0.42.0 (SinkBinding), and a networking layer, net-gateway-api v0.42.0 with Traefik as the
# Gateway. Binaries come from the module proxy (build.sh knative net-gateway-api traefik), images
# from images.sh, the manifests from the same releases' modules (their config/ yaml), applied
# through knative-system/ (every change this machine forces is named there).
#
#   knative.sh release   write knative-system/release/ from the module cache
#   knative.sh up        build, image, apply and wait until Knative is ready (needs the cluster)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.sh"
: "${CACHE:=$HOME/.cache/fraud-detector}"
export CACHE
log() { printf '%s knative: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "$*"; exit 1; }

# moddir BUILD MODULE: the module's folder in the module cache, at the version the build module
# BUILD selects (so the yaml is from the very release that build.sh compiled).
moddir() {
	(cd "$here/build/$1" && GOFLAGS=-mod=mod go mod download -json "$2" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
}

# yamls DIR FILE...: the files, each as its own document, with ko:// image references rewritten
# to the images images.sh builds (ko://knative.dev/serving/cmd/queue ->
# fraud-detector.local/knative-serving-queue:dev).
yamls() {
	local dir=$1 f; shift
	for f in "$@"; do
		[ -f "$dir/$f" ] || die "$dir/$f: not in the release"
		printf -- '---\n# %s\n' "$f"
		sed -E 's#ko://knative\.dev/([a-z-]+)/cmd/([a-z_-]+)#fraud-detector.local/knative-\1-\2:dev#g' "$dir/$f"
		echo
	done
}

release() {
	local out=$here/knative-system/release serving eventing networking caching ngw gwapi
	serving=$(moddir knative knative.dev/serving)
	eventing=$(moddir knative knative.dev/eventing)
	networking=$(moddir knative knative.dev/networking)
	caching=$(moddir knative knative.dev/caching)
	ngw=$(moddir net-gateway-api knative.dev/net-gateway-api)
	gwapi=$(moddir traefik sigs.k8s.io/gateway-api)
	[ -n "$serving" ] && [ -n "$eventing" ] && [ -n "$networking" ] && [ -n "$caching" ] && [ -n "$ngw" ] && [ -n "$gwapi" ] ||
		die "a release module is missing from the module cache"
	mkdir -p "$out"
	# Serving's config/core links the networking and caching CRDs and config-network from those
	# modules; module zips drop the links, so they come from the modules themselves.
	(
		cd "$serving/config"
		yamls . core/100-namespace.yaml core/200-serviceaccount.yaml $(ls core/200-roles/*.yaml) \
			$(ls core/300-resources/*.yaml) $(ls core/configmaps/*.yaml) core/999-cache.yaml \
			core/deployments/controller.yaml core/deployments/webhook.yaml core/deployments/activator.yaml \
			$(ls core/webhooks/*.yaml) hpa-autoscaling/controller.yaml
		cd "$networking/config" && yamls . certificate.yaml ingress.yaml serverlessservice.yaml domain-claim.yaml config-network.yaml
		cd "$caching/config" && yamls . image.yaml
	) >"$out/serving.yaml"
	(
		cd "$eventing/config/core"
		yamls . 100-namespace.yaml $(ls 200-*serviceaccount.yaml) $(ls roles/*.yaml) $(ls resources/*.yaml) \
			$(ls configmaps/*.yaml) deployments/controller.yaml deployments/webhook.yaml $(ls webhooks/*.yaml)
	) >"$out/eventing.yaml"
	(cd "$ngw/config" && yamls . 200-clusterrole.yaml 300-controller.yaml config-gateway.yaml) >"$out/net-gateway-api.yaml"
	(cd "$gwapi/config/crd/standard" && yamls . $(ls *.yaml)) >"$out/gateway-api-crds.yaml"
	log "release: serving ${serving##*@}, eventing ${eventing##*@}, net-gateway-api ${ngw##*@}, gateway-api ${gwapi##*@} in $out"
}

up() {
	eval "$("$here/cluster.sh" env)"
	"$here/cluster.sh" status || die "the cluster is not up: make cluster-up"
	"$here/build.sh" knative net-gateway-api traefik
	"$here/images.sh" knative
	release
	# Server-side: Knative's CRDs are larger than client-side apply's annotation allows. The
	# Gateway API CRDs first: traefik.yaml's GatewayClass and Gateway are of their kinds.
	kubectl apply --server-side --force-conflicts -f "$here/knative-system/release/gateway-api-crds.yaml" >/dev/null
	kubectl wait --for=condition=Established crd/gateways.gateway.networking.k8s.io crd/gatewayclasses.gateway.networking.k8s.io --timeout=60s >/dev/null
	kubectl kustomize "$here/knative-system" | kubectl apply --server-side --force-conflicts -f - >/dev/null
	local d
	for d in knative-serving/controller knative-serving/webhook knative-serving/autoscaler-hpa \
		knative-serving/net-gateway-api-controller knative-eventing/eventing-controller \
		knative-eventing/eventing-webhook traefik/traefik; do
		kubectl -n "${d%%/*}" rollout status "deployment/${d#*/}" --timeout=300s >/dev/null || die "$d did not roll out"
	done
	# The webhooks register their rules once they run; until then a Knative object would pass unchecked.
	for _ in $(seq 60); do
		[ -n "$(kubectl get validatingwebhookconfiguration validation.webhook.serving.knative.dev -o jsonpath='{.webhooks[0].rules}' 2>/dev/null)" ] &&
			[ -n "$(kubectl get mutatingwebhookconfiguration sinkbindings.webhook.sources.knative.dev -o jsonpath='{.webhooks[0].rules}' 2>/dev/null)" ] && break
		sleep 2
	done
	kubectl wait --for=condition=Programmed gateway/knative-gateway -n traefik --timeout=120s >/dev/null || log "the Traefik Gateway is not Programmed"
	log "Knative ready: $(kubectl get deploy -n knative-serving -o name | wc -l) Serving and $(kubectl get deploy -n knative-eventing -o name | wc -l) Eventing deployments, Gateway $(kubectl get gateway -n traefik knative-gateway -o jsonpath='{.status.conditions[?(@.type=="Programmed")].status}')"
}

case ${1:-} in
release) release ;;
up) up ;;
*) echo "usage: knative.sh release|up" >&2; exit 2 ;;
esac
