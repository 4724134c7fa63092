#!/usr/bin/env bash
# On a running local cluster (cluster.sh up): imports the images and applies the cluster's add-ons
# (CoreDNS, metrics-server) and the monitoring stack (prometheus-operator with its CRDs from the
# operator's own module, Prometheus, Alertmanager, kube-state-metrics, the kubelet/cAdvisor
# monitor), then waits until they are ready.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.sh"
: "${CACHE:=$HOME/.cache/fraud-detector}"
eval "$("$here/cluster.sh" env)"
log() { printf '%s stack: %s\n' "$(date +%T)" "$*" >&2; }

"$here/build.sh" metrics-server kube-state-metrics coredns prometheus-operator
"$here/images.sh" system monitoring
kubectl apply -k "$here/system" >/dev/null
# The CRDs as the operator release ships them (server-side: they exceed the client-side
# last-applied annotation limit).
crds=$(cd "$here/build/prometheus-operator" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' github.com/prometheus-operator/prometheus-operator)/example/prometheus-operator-crd
kubectl apply --server-side --force-conflicts -f "$crds" >/dev/null
kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
kubectl apply -k "$here/monitoring" >/dev/null
for d in kube-system/coredns kube-system/metrics-server monitoring/prometheus-operator monitoring/kube-state-metrics; do
	kubectl -n "${d%%/*}" rollout status "deployment/${d##*/}" --timeout=180s >/dev/null
done
for _ in $(seq 90); do
	kubectl -n monitoring get statefulset prometheus-kube-prometheus-stack-prometheus >/dev/null 2>&1 && break; sleep 2
done
kubectl -n monitoring rollout status statefulset/prometheus-kube-prometheus-stack-prometheus --timeout=240s >/dev/null
kubectl -n monitoring rollout status statefulset/alertmanager-kube-prometheus-stack-alertmanager --timeout=240s >/dev/null
log "ready: DNS, metrics-server, prometheus-operator, Prometheus, Alertmanager, kube-state-metrics"
