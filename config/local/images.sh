#!/usr/bin/env bash
# Builds the local cluster's images with buildah from the repository's own Dockerfiles and
# imports them into the cluster's containerd. Nothing is pulled from a registry: every image is
# FROM scratch around a binary built here (Go) or taken from this machine's Debian packages.
# An image is rebuilt only when its build context changes (cached under $CACHE/local/images).
#
#   images.sh [NAME|GROUP ...]   groups: pause, system, monitoring, app, knative, all (default;
#                                knative is not in all: only make test-knative needs it)
#
# Every image is named fraud-detector.local/NAME:dev; the manifests and the local overlay use
# those names with imagePullPolicy IfNotPresent (a non-latest tag), so the kubelet never pulls.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/versions.sh"
: "${CACHE:=$HOME/.cache/fraud-detector}"
: "${CLUSTER_STATE:=/var/lib/fraud-detector-cluster}"
bin=$CACHE/local/bin
store=$CACHE/local/images
work=$CACHE/local/image-build
mkdir -p "$store" "$work"
buildah=(buildah --root "$CACHE/local/buildah/root" --runroot "$CACHE/local/buildah/run" --storage-driver vfs)
ctr=(ctr --address "$CLUSTER_STATE/containerd/containerd.sock" -n k8s.io)

log() { printf '%s images: %s\n' "$(date +%T)" "$*" >&2; }

# Go programs of this repository: name -> package.
declare -A REPO_PKG=(
	[pause]=./config/local/pause
	[fraud-detector]=./function/cmd/fraud-detector
	[dispatcher]=./eventing/dispatcher
	[loadgen]=./loadgen
	[admin-receiver]=./observability/receiver
	[kafka-exporter]=./observability/kafka-exporter/cmd/kafka-exporter
)
# Go programs built by build.sh from their own modules: name -> cached binary.
declare -A MODULE_BIN=(
	[coredns]=$bin/coredns-$COREDNS_VERSION/coredns
	[metrics-server]=$bin/metrics-server-$METRICS_SERVER_VERSION/metrics-server
	[kube-state-metrics]=$bin/kube-state-metrics-$KSM_VERSION/kube-state-metrics
	[prometheus-operator]=$bin/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION/prometheus-operator
	[prometheus-config-reloader]=$bin/prometheus-config-reloader-$PROMETHEUS_OPERATOR_VERSION/prometheus-config-reloader
	[prometheus]=$bin/$PROMETHEUS_FOLDER/prometheus
	[knative-serving-controller]=$bin/knative-serving-$KNATIVE_SERVING_VERSION/controller
	[knative-serving-webhook]=$bin/knative-serving-$KNATIVE_SERVING_VERSION/webhook
	[knative-serving-autoscaler-hpa]=$bin/knative-serving-$KNATIVE_SERVING_VERSION/autoscaler-hpa
	[knative-serving-queue]=$bin/knative-serving-$KNATIVE_SERVING_VERSION/queue
	[knative-eventing-controller]=$bin/knative-eventing-$KNATIVE_EVENTING_VERSION/controller
	[knative-eventing-webhook]=$bin/knative-eventing-$KNATIVE_EVENTING_VERSION/webhook
	[knative-net-gateway-api-controller]=$bin/net-gateway-api-$NET_GATEWAY_API_VERSION/controller
	[traefik]=$bin/traefik-$TRAEFIK_VERSION/traefik
)
declare -A BUILD_TARGET=(
	[coredns]=coredns [metrics-server]=metrics-server [kube-state-metrics]=kube-state-metrics
	[prometheus-operator]=prometheus-operator [prometheus-config-reloader]=prometheus-operator
	[prometheus]=prometheus
	[knative-serving-controller]=knative [knative-serving-webhook]=knative [knative-serving-autoscaler-hpa]=knative
	[knative-serving-queue]=knative [knative-eventing-controller]=knative [knative-eventing-webhook]=knative
	[knative-net-gateway-api-controller]=net-gateway-api [traefik]=traefik
)
# Debian programs: name -> "user binaries..." (the first binary is the entrypoint).
declare -A DEBIAN=(
	[alertmanager]="65534 /usr/bin/prometheus-alertmanager:/bin/alertmanager /usr/bin/amtool:/bin/amtool /usr/share/prometheus/alertmanager/default.tmpl /usr/share/prometheus/alertmanager/email.tmpl"
	[redis]="999 /usr/bin/redis-check-rdb:/usr/bin/redis-server /usr/bin/redis-cli /bin/sh /bin/grep"
)
declare -A GROUPS_=(
	[pause]="pause"
	[system]="coredns metrics-server kube-state-metrics"
	[monitoring]="prometheus-operator prometheus-config-reloader prometheus alertmanager kafka-exporter"
	[app]="fraud-detector dispatcher loadgen admin-receiver redis"
	[knative]="knative-serving-controller knative-serving-webhook knative-serving-autoscaler-hpa knative-serving-queue knative-eventing-controller knative-eventing-webhook knative-net-gateway-api-controller traefik"
)
GROUPS_[all]="${GROUPS_[pause]} ${GROUPS_[system]} ${GROUPS_[monitoring]} ${GROUPS_[app]}"

# context NAME DIR: writes the build context and prints the Dockerfile to use.
context() {
	local name=$1 ctx=$2
	rm -rf "$ctx"; mkdir -p "$ctx"
	cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
	if [ -n "${REPO_PKG[$name]:-}" ]; then
		(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ctx/app" "${REPO_PKG[$name]}") >&2
		mkdir -p "$ctx/bin"
		if [ "$name" = fraud-detector ]; then
			mv "$ctx/app" "$ctx/fraud-detector"
			echo "$root/config/image/Dockerfile.prebuilt"
		else
			echo "$here/images/Dockerfile.static"
		fi
	elif [ -n "${MODULE_BIN[$name]:-}" ]; then
		[ -x "${MODULE_BIN[$name]}" ] || "$here/build.sh" "${BUILD_TARGET[$name]}"
		cp "${MODULE_BIN[$name]}" "$ctx/app"
		# Also where the upstream image keeps it: prometheus-operator runs the reloader as
		# /bin/prometheus-config-reloader.
		mkdir -p "$ctx/bin"; cp "$ctx/app" "$ctx/bin/$name"
		echo "$here/images/Dockerfile.static"
	else
		local spec=${DEBIAN[$name]} user first=1
		user=${spec%% *}
		for b in ${spec#* }; do
			local src=${b%%:*} dst=${b##*:}
			[ -e "$src" ] || { log "$name needs $src (Debian package missing?)"; exit 1; }
			mkdir -p "$ctx/rootfs$(dirname "$dst")"
			cp -L "$src" "$ctx/rootfs$dst"
			if [ $first = 1 ]; then mkdir -p "$ctx/rootfs/usr/local/bin"; cp -L "$src" "$ctx/rootfs/usr/local/bin/app"; first=0; fi
			for lib in $(ldd "$src" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'); do
				mkdir -p "$ctx/rootfs$(dirname "$lib")"; cp -L "$lib" "$ctx/rootfs$lib"
			done
		done
		mkdir -p "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/tmp" "$ctx/rootfs/data"
		chmod 1777 "$ctx/rootfs/tmp"
		cp /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/"
		printf 'root:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\nredis:x:999:999::/data:/bin/sh\nnonroot:x:65532:65532::/:/bin/sh\n' > "$ctx/rootfs/etc/passwd"
		printf 'root:x:0:\nnogroup:x:65534:\nredis:x:999:\nnonroot:x:65532:\n' > "$ctx/rootfs/etc/group"
		echo "$user" > "$ctx/user"
		echo "$here/images/Dockerfile.rootfs"
	fi
}

build() {
	local name=$1 ctx=$work/$1 dockerfile sum tar=$store/$1.tar ref=fraud-detector.local/$1:dev
	dockerfile=$(context "$name" "$ctx")
	sum=$( (cat "$dockerfile"; cd "$ctx" && find . -type f | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-16)
	if [ -f "$tar" ] && [ "$(cat "$store/$name.sum" 2>/dev/null)" = "$sum" ]; then
		return 0
	fi
	log "build $ref"
	local args=()
	[ -f "$ctx/user" ] && args=(--build-arg "USER=$(cat "$ctx/user")")
	"${buildah[@]}" build --quiet --isolation chroot "${args[@]}" -f "$dockerfile" -t "$ref" "$ctx" >/dev/null
	rm -f "$tar"
	"${buildah[@]}" push --quiet "$ref" "docker-archive:$tar:$ref" >/dev/null
	"${buildah[@]}" rmi "$ref" >/dev/null 2>&1 || true
	echo "$sum" > "$store/$name.sum"
}

import() {
	local name=$1
	[ -S "$CLUSTER_STATE/containerd/containerd.sock" ] || return 0
	"${ctr[@]}" images import --no-unpack=false "$store/$name.tar" >/dev/null
}

names=()
for a in "${@:-all}"; do
	if [ -n "${GROUPS_[$a]:-}" ]; then names+=(${GROUPS_[$a]}); else names+=("$a"); fi
done
for n in "${names[@]}"; do build "$n"; import "$n"; done
log "ready: ${names[*]}"
