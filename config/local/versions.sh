# Versions of everything the local cluster builds; the cache is keyed by them.
K8S_VERSION=v1.34.2
METRICS_SERVER_VERSION=v0.8.0
KSM_VERSION=v2.16.0
COREDNS_VERSION=v1.15.0
PROMETHEUS_OPERATOR_VERSION=v0.85.0
PAUSE_IMAGE=fraud-detector.local/pause:dev
PROMETHEUS_VERSION=v0.316.0 # the Go module of Prometheus 3.16.0
PROMETHEUS_TAGS=remove_all_sd,enable_kubernetes_sd # Prometheus' build tags: Kubernetes SD only
PROMETHEUS_FOLDER=prometheus-$PROMETHEUS_VERSION-k8s-sd
