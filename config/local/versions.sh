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
KNATIVE_SERVING_VERSION=v0.42.2 # Knative Serving 1.15 (build/knative)
KNATIVE_EVENTING_VERSION=v0.42.0 # Knative Eventing 1.15, the same knative.dev/pkg as Serving
NET_GATEWAY_API_VERSION=v0.42.0 # Knative's networking layer over the Gateway API (build/net-gateway-api)
TRAEFIK_VERSION=v3.6.12 # the Gateway API implementation (build/traefik)
