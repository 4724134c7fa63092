#!/usr/bin/env bash
# Builds (once per version, cached under $CACHE/local/bin/<name>-<version>) every binary the local
# cluster runs on the host or packs into an image. Nothing is pulled from a registry except Go
# modules through the module proxy.
#   config/local/build.sh [kubernetes|metrics-server|kube-state-metrics|coredns|prometheus-operator|knative|net-gateway-api|traefik|...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.sh"
CACHE=${CACHE:-$HOME/.cache/fraud-detector}
bin=$CACHE/local/bin
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf '%s build: %s\n' "$(date +%T)" "$*" >&2; }

# build_module NAME VERSION PKG [LDFLAGS [TAGS [FOLDER]]]: go install PKG@VERSION into a versioned
# folder ($bin/NAME-VERSION unless FOLDER is given: a build with other tags is another binary).
build_module() {
  local name=$1 version=$2 pkg=$3 ldflags=${4:-} tags=${5:-}
  local out=$bin/${6:-$name-$version}
  [ -x "$out/$name" ] && return 0
  log "$name $version${tags:+ (tags $tags)}"
  local tmp; tmp=$(mktemp -d)
  GOBIN=$tmp go install -trimpath -tags "$tags" -ldflags "-s -w $ldflags" "$pkg@$version"
  mkdir -p "$out"; mv "$tmp/$(basename "${pkg%%/v[0-9]*}")" "$out/$name" 2>/dev/null || mv "$tmp"/* "$out/$name"
  rmdir "$tmp" 2>/dev/null || true
}

kubernetes() {
  local out=$bin/kubernetes-$K8S_VERSION
  local cmds="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl"
  local missing=0; for c in $cmds; do [ -x "$out/$c" ] || missing=1; done
  [ $missing = 0 ] && return 0
  mkdir -p "$out"
  local v=$K8S_VERSION ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${K8S_VERSION#v1.} -X k8s.io/component-base/version.gitTreeState=clean"
  ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
  for c in $cmds; do
    [ -x "$out/$c" ] && continue
    log "$c $v"
    (cd "$here/build/kubernetes" && go build -trimpath -ldflags "$ld" -o "$out/$c.tmp" "k8s.io/kubernetes/cmd/$c" && mv "$out/$c.tmp" "$out/$c")
  done
}

metrics_server()      { build_module metrics-server "$METRICS_SERVER_VERSION" sigs.k8s.io/metrics-server/cmd/metrics-server; }
# kube-state-metrics through a build module (build/kube-state-metrics): `go install pkg@v2.16.0`
# fails here (the proxy refuses the version list that go install reads for deprecations), and the
# checksum database has no entry for that version (404), so its go.sum is the check.
kube_state_metrics() {
  local out=$bin/kube-state-metrics-$KSM_VERSION
  [ -x "$out/kube-state-metrics" ] && return 0
  log "kube-state-metrics $KSM_VERSION"
  mkdir -p "$out"
  (cd "$here/build/kube-state-metrics" && GONOSUMDB=k8s.io/kube-state-metrics go build -trimpath -ldflags "-s -w" \
    -o "$out/kube-state-metrics.tmp" k8s.io/kube-state-metrics/v2 && mv "$out/kube-state-metrics.tmp" "$out/kube-state-metrics")
}
coredns()             { build_module coredns "$COREDNS_VERSION" github.com/coredns/coredns; }
# prometheus-operator through a build module (build/prometheus-operator): its own go.mod replaces
# two modules with local directories, which `go install cmd@version` refuses.
prometheus_operator() {
  local c
  for c in operator:prometheus-operator prometheus-config-reloader:prometheus-config-reloader; do
    local pkg=${c%%:*} name=${c##*:} out=$bin/${c##*:}-$PROMETHEUS_OPERATOR_VERSION
    [ -x "$out/$name" ] && continue
    log "$name $PROMETHEUS_OPERATOR_VERSION"
    mkdir -p "$out"
    (cd "$here/build/prometheus-operator" && go build -trimpath -ldflags "-s -w" -o "$out/$name.tmp" \
      "github.com/prometheus-operator/prometheus-operator/cmd/$pkg" && mv "$out/$name.tmp" "$out/$name")
  done
}

# Prometheus from its Go module: Debian's 2.42 is built without Kubernetes service discovery, so
# it cannot read the configuration prometheus-operator writes (kubernetes_sd_configs). Built with
# Prometheus' own tags for a smaller binary: only the Kubernetes service discovery (the operator
# writes nothing else), which leaves out the cloud SDKs (AWS, Azure, GCE, ...) and most of the build.
prometheus() {
  build_module prometheus "$PROMETHEUS_VERSION" github.com/prometheus/prometheus/cmd/prometheus \
    "-X github.com/prometheus/common/version.Version=3.${PROMETHEUS_VERSION#v0.3}" \
    "$PROMETHEUS_TAGS" "$PROMETHEUS_FOLDER"
}

# Knative Serving and Eventing core through one build module (build/knative): the releases of
# one Knative version share knative.dev/pkg, and one module keeps a single set of k8s libraries.
# Only what the HPA class and a SinkBinding need: Serving's controller, webhook, autoscaler-hpa
# and queue-proxy; Eventing's controller and webhook (the activator and the KPA autoscaler are
# not run: an HPA-class revision is always served directly, never through the activator).
KNATIVE_CMDS="serving:controller serving:webhook serving:autoscaler-hpa serving:queue eventing:controller eventing:webhook"
knative() {
  local c
  for c in $KNATIVE_CMDS; do
    local repo=${c%%:*} cmd=${c##*:} version out
    version=$KNATIVE_SERVING_VERSION; [ "$repo" = eventing ] && version=$KNATIVE_EVENTING_VERSION
    out=$bin/knative-$repo-$version
    [ -x "$out/$cmd" ] && continue
    log "knative $repo $cmd $version"
    mkdir -p "$out"
    (cd "$here/build/knative" && go build -trimpath -ldflags "-s -w" -o "$out/$cmd.tmp" "knative.dev/$repo/cmd/$cmd" && mv "$out/$cmd.tmp" "$out/$cmd")
  done
}

# The networking layer: net-gateway-api's controller and Traefik, each through its own build module
# (net-gateway-api pins k8s v0.29.6 by replace; Traefik needs k8s v0.34 and go 1.26).
net_gateway_api() {
  local out=$bin/net-gateway-api-$NET_GATEWAY_API_VERSION
  [ -x "$out/controller" ] && return 0
  log "net-gateway-api controller $NET_GATEWAY_API_VERSION"
  mkdir -p "$out"
  (cd "$here/build/net-gateway-api" && go build -trimpath -ldflags "-s -w" -o "$out/controller.tmp" knative.dev/net-gateway-api/cmd/controller && mv "$out/controller.tmp" "$out/controller")
}
traefik() {
  local out=$bin/traefik-$TRAEFIK_VERSION
  [ -x "$out/traefik" ] && return 0
  log "traefik $TRAEFIK_VERSION"
  mkdir -p "$out"
  (cd "$here/build/traefik" && go build -trimpath -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=${TRAEFIK_VERSION#v}" \
    -o "$out/traefik.tmp" github.com/traefik/traefik/v3/cmd/traefik && mv "$out/traefik.tmp" "$out/traefik")
}

targets=${*:-kubernetes metrics-server kube-state-metrics coredns prometheus-operator prometheus}
for t in $targets; do "${t//-/_}"; done
log "done: $targets"
