# The function (issue 3). Included by the root Makefile.
#   make test-function   resident-set check on the real binary (1 M events, 5,000 customers); part of make test
#   make test-function-kafka  the binary in FUNC_TRANSPORT=kafka on its own real broker (a failed
#                        Start must exit, not hang); part of make test
#   make test-func       func build / func run / func invoke with Knative Functions' CLI; part of make test
#   make bench-function  loopback throughput vs a bare net/http ceiling, and p99 at a steady 1,500 req/s
.PHONY: test-function test-function-kafka bench-function
TEST_TARGETS += test-function test-function-kafka

test-function:
	FRAUD_RSS_TEST=1 go test -count=1 -timeout 5m -run '^TestResidentSet$$' -v ./function/

# Its own broker ports, so neither a developer's broker nor test-kafka's is disturbed.
FUNCTION_KAFKA_PORT ?= 19292
FUNCTION_KAFKA_ENV = KAFKA_PORT=$(FUNCTION_KAFKA_PORT) KAFKA_CONTROLLER_PORT=$$(($(FUNCTION_KAFKA_PORT)+1)) KAFKA_STATE=$${TMPDIR:-/tmp}/fraud-detector-kafka-function-$(FUNCTION_KAFKA_PORT)
test-function-kafka:
	$(FUNCTION_KAFKA_ENV) eventing/local/kafka.sh up
	trap '$(FUNCTION_KAFKA_ENV) eventing/local/kafka.sh down' EXIT; \
	KAFKA_BROKERS=127.0.0.1:$(FUNCTION_KAFKA_PORT) KAFKA_REQUIRED=1 go test -count=1 -timeout 5m -run '^TestKafka' -v ./function/

BENCH_DURATION ?= 5s
bench-function:
	go test -run '^$$' -bench . -benchmem -benchtime 20000x ./internal/events ./function/
	FRAUD_BENCH=1 BENCH_DURATION=$(BENCH_DURATION) go test -count=1 -timeout 10m -run '^TestLoopback' -v ./function/


# The Open Inference Protocol routes driven by Triton's own HTTP client (tritonclient from PyPI,
# pinned in function/oipclient/requirements.txt, in a venv cached by the file's hash).
OIP_REQUIREMENTS := function/oipclient/requirements.txt
OIP_VENV := $(CACHE)/venv-oip-$(shell sha256sum $(OIP_REQUIREMENTS) | cut -c1-16)
TEST_TARGETS += test-oip
.PHONY: test-oip
$(OIP_VENV)/.complete: $(OIP_REQUIREMENTS)
	rm -rf $(OIP_VENV)
	python3 -m venv $(OIP_VENV)
	$(OIP_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-input -r $(OIP_REQUIREMENTS)
	touch $@

test-oip: $(OIP_VENV)/.complete
	bin=$$(mktemp -d)/fraud-detector; trap 'rm -rf $$(dirname $$bin)' EXIT; \
	go build -o $$bin ./function/cmd/fraud-detector && $(OIP_VENV)/bin/python function/oipclient/check.py $$bin

# The CloudEvents conformance tool against the function (function/conformance/run.sh).
TEST_TARGETS += test-conformance
.PHONY: test-conformance
test-conformance:
	function/conformance/run.sh

# Knative Functions' own CLI against the project (function/funccli_test.go): `func build` with the
# host builder, `func run` on the host and `func invoke`, on a copy of the project (func writes
# .func/ into it) kept under $(CACHE) so that Go's build cache stays warm. knative.dev/func v0.44.0
# is the version the module proxy serves; its cmd/func builds only as the main module of its own
# module copy (its go.mod replaces mergo), cached by version (cold: about 7 minutes, 1.7 GB of
# modules; func build itself compiles the function for three platforms, as func does).
FUNC_VERSION := v0.44.0
FUNC_CLI := $(GOBIN)/func-$(FUNC_VERSION)
FUNC_KAFKA_PORT ?= 19392
FUNC_CLI_KAFKA_ENV = KAFKA_PORT=$(FUNC_KAFKA_PORT) KAFKA_CONTROLLER_PORT=$$(($(FUNC_KAFKA_PORT)+1)) KAFKA_STATE=$${TMPDIR:-/tmp}/fraud-detector-kafka-func-$(FUNC_KAFKA_PORT)
TEST_TARGETS += test-func
.PHONY: test-func
$(FUNC_CLI):
	mkdir -p $(GOBIN)
	src=$$(cd / && GOFLAGS=-mod=mod go mod download -json knative.dev/func@$(FUNC_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	[ -d "$$src" ] || { echo "knative.dev/func@$(FUNC_VERSION): no module copy"; exit 1; }; \
	tmp=$$(mktemp -d); trap 'chmod -R u+w $$tmp; rm -rf $$tmp' EXIT; \
	cp -r $$src/. $$tmp && chmod -R u+w $$tmp && \
	(cd $$tmp && go build -trimpath -o $@.tmp ./cmd/func) && mv $@.tmp $@

test-func: $(FUNC_CLI)
	$(FUNC_CLI_KAFKA_ENV) eventing/local/kafka.sh up
	trap '$(FUNC_CLI_KAFKA_ENV) eventing/local/kafka.sh down' EXIT; \
	FUNC_CLI=$(FUNC_CLI) FUNC_PROJECT_DIR=$(CACHE)/func-project KAFKA_BROKERS=127.0.0.1:$(FUNC_KAFKA_PORT) KAFKA_REQUIRED=1 \
	  go test -count=1 -timeout 25m -run '^TestFuncCLI$$' -v ./function/
