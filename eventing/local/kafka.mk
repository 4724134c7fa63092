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

# Faults on the whole delivery path (eventing/faults): its own broker, a real redis-server, the
# function behind the dispatcher on the shipped KafkaSource; outages longer than 12 s, hostile
# input beside the load. `make soak`: SOAK_DURATION at SOAK_RATE TPS with every fault.
FAULTS_KAFKA_PORT ?= 19492
FAULTS_KAFKA_ENV = KAFKA_PORT=$(FAULTS_KAFKA_PORT) KAFKA_CONTROLLER_PORT=$$(($(FAULTS_KAFKA_PORT)+1)) KAFKA_STATE=$${TMPDIR:-/tmp}/fraud-detector-kafka-faults-$(FAULTS_KAFKA_PORT)
FAULTS_RUN = $(FAULTS_KAFKA_ENV) $(KAFKA_SH) down >/dev/null 2>&1 || true; \
	$(FAULTS_KAFKA_ENV) $(KAFKA_SH) up && \
	trap '$(FAULTS_KAFKA_ENV) $(KAFKA_SH) down' EXIT; \
	$(FAULTS_KAFKA_ENV) KAFKA_BROKERS=127.0.0.1:$(FAULTS_KAFKA_PORT) KAFKA_SH=$(CURDIR)/$(KAFKA_SH) \
	REDIS_SERVER=$$(command -v redis-server) FAULTS_REQUIRED=1
SOAK_DURATION ?= 10m
SOAK_RATE ?= 1500
TEST_TARGETS += test-faults
.PHONY: test-faults soak
test-faults: redis-installed
	$(FAULTS_RUN) go test -count=1 -timeout 10m -run '^TestOutage' -v ./eventing/faults/

soak: redis-installed
	$(FAULTS_RUN) SOAK_DURATION=$(SOAK_DURATION) SOAK_RATE=$(SOAK_RATE) go test -count=1 -timeout 40m -run '^TestSoak$$' -v ./eventing/faults/
