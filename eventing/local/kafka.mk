# The local Kafka path: a real single-node broker (KRaft, loopback), the must-show delivery tests
# on it, the demo and the Kafka benchmarks. Included by the root Makefile.
KAFKA_VERSION ?= 4.1.1
KAFKA_PORT ?= 19092
export KAFKA_VERSION
KAFKA_SH := eventing/local/kafka.sh
# The tests run their own broker on other ports, so a developer's `make kafka-up` broker is left alone.
TEST_KAFKA_ENV := KAFKA_PORT=19192 KAFKA_CONTROLLER_PORT=19193 KAFKA_STATE=$${TMPDIR:-/tmp}/fraud-detector-kafka-test

TEST_TARGETS += test-kafka
.PHONY: kafka-up kafka-down kafka-fetch test-kafka demo bench-kafka

kafka-fetch:
	eventing/local/fetch-kafka.sh

kafka-up:
	KAFKA_PORT=$(KAFKA_PORT) $(KAFKA_SH) up

kafka-down:
	KAFKA_PORT=$(KAFKA_PORT) $(KAFKA_SH) down

# Real-broker tests: start a fresh broker, run the tests that need it (KAFKA_REQUIRED makes them
# fail, not skip, if the broker is missing), stop it whatever happens. -p 1: the broker-restart
# test must not disturb another package's tests.
test-kafka:
	$(TEST_KAFKA_ENV) $(KAFKA_SH) up
	trap '$(TEST_KAFKA_ENV) $(KAFKA_SH) down' EXIT; \
	KAFKA_BROKERS=127.0.0.1:19192 KAFKA_REQUIRED=1 KAFKA_SH=$(CURDIR)/$(KAFKA_SH) $(TEST_KAFKA_ENV) \
		go test -count=1 -p 1 -timeout 8m -run Kafka -v ./internal/kafkaio/... ./loadgen/... ./observability/kafka-exporter/... ./eventing/cmd/...

# Broker up, function in Kafka mode, a one-minute attack, then sent/predicted/lost/duplicates.
demo:
	eventing/local/demo.sh

bench-kafka:
	eventing/local/bench.sh
