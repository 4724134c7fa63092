# Deployment manifests and the image (issue 5). Included by the root Makefile.
#   make test-config   every manifest of the repo decoded strictly into its real Go type, both
#                      kustomize variants rendered and checked (Knative webhook validation, Pod
#                      Security "restricted", HPA bounds, KafkaSource and Redis wiring, sizing),
#                      ArgoCD objects against ArgoCD's CRD schemas, and the image built with
#                      buildah.
# config/validate is its own Go module, so the function's module carries no k8s dependencies.
# No -race: the checks run on one goroutine, and the race build of the apiserver/knative
# dependencies doubles the compile time.
.PHONY: test-config buildah
TEST_TARGETS += test-config

buildah:
	@command -v buildah >/dev/null || (apt-get update && apt-get install -y --no-install-recommends buildah)

test-config: buildah
	cd config/validate && go vet ./... && FRAUD_IMAGE_TEST=1 go test -count=1 -timeout 15m -v ./... 2>&1 \
		| grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go:' 
