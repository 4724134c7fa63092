# The function (issue 3). Included by the root Makefile.
#   make test-function   resident-set check on the real binary (1 M events, 5,000 customers); part of make test
#   make test-function-kafka  the binary in FUNC_TRANSPORT=kafka on its own real broker (a failed
#                        Start must exit, not hang); part of make test
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
