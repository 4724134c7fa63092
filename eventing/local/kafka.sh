#!/usr/bin/env bash
# A real single-node Apache Kafka (KRaft, broker + controller in one process) on loopback, for
# development and tests. Its storage lives in a fresh temporary folder that `down` removes.
#
#   kafka.sh up      start (fetching the jars once), wait until it answers, create the topics
#   kafka.sh down    stop it (SIGTERM, then SIGKILL after 30 s) and remove its storage
#   kafka.sh stop    stop the process but keep storage (for restart tests); `start` brings it back
#   kafka.sh start   start again on the kept storage
#   kafka.sh status  exit 0 if running
#   kafka.sh topic NAME [PARTITIONS]   create a topic
#   kafka.sh perf ARGS...   run kafka-producer-perf-test (org.apache.kafka.tools.ProducerPerformance)
#   kafka.sh classpath   print the classpath (for Kafka's own tools)
#
# Environment: CACHE, KAFKA_VERSION, KAFKA_HOST (127.0.0.1: the address it listens on and advertises;
# config/local gives the cluster node's bridge address), KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093),
# KAFKA_STATE (state folder: pid, storage), KAFKA_PARTITIONS (12), KAFKA_INPUT_PARTITIONS (48).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${CACHE:=$HOME/.cache/fraud-detector}"
: "${KAFKA_VERSION:=4.1.1}"
: "${KAFKA_HOST:=127.0.0.1}"
: "${KAFKA_PORT:=19092}"
: "${KAFKA_CONTROLLER_PORT:=19093}"
: "${KAFKA_STATE:=${TMPDIR:-/tmp}/fraud-detector-kafka-$KAFKA_PORT}"
: "${KAFKA_PARTITIONS:=12}"
# Ordered delivery keeps one event in flight per partition, each waiting for its prediction's
# acknowledgement (~3-5 ms here): 48 partitions carry ~10,000/s on this 2-core machine, where 12
# stopped at ~4,600/s (see the Kafka benchmark in eventing/local/README.md).
: "${KAFKA_INPUT_PARTITIONS:=48}"
: "${KAFKA_HEAP:=-Xms256m -Xmx1g}"
export CACHE KAFKA_VERSION
libs="$CACHE/kafka-$KAFKA_VERSION/libs"
bootstrap="$KAFKA_HOST:$KAFKA_PORT"
# Topics the design names (see shared design.md), each with KAFKA_PARTITIONS partitions.
topics=(transactions-input fraud-predictions fraud-labels transactions-dead-letter)

classpath() { printf '%s' "$libs/*"; }

running() {
	[[ -f "$KAFKA_STATE/pid" ]] && kill -0 "$(cat "$KAFKA_STATE/pid")" 2>/dev/null
}

# Kafka's code logs through slf4j (bound to reload4j here) and a little through log4j2: both go to
# files in the state folder, so the terminal shows only what the scripts print.
logging() {
	printf '%s ' "-Dlog4j.configuration=file:$KAFKA_STATE/log4j.properties" \
		"-Dlog4j2.configurationFile=$KAFKA_STATE/log4j2.properties"
}

java_run() {
	# shellcheck disable=SC2046
	java $(logging) -cp "$(classpath)" "$@"
}

configure() {
	mkdir -p "$KAFKA_STATE"
	local data
	data=$(mktemp -d "${TMPDIR:-/tmp}/kafka-data.XXXXXX")
	echo "$data" >"$KAFKA_STATE/data"
	cat >"$KAFKA_STATE/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data
num.partitions=$KAFKA_PARTITIONS
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=24
num.network.threads=2
num.io.threads=4
PROPS
	cat >"$KAFKA_STATE/log4j.properties" <<PROPS
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$KAFKA_STATE/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
PROPS
	cat >"$KAFKA_STATE/log4j2.properties" <<PROPS
status=error
appender.file.type=File
appender.file.name=file
appender.file.fileName=$KAFKA_STATE/server-log4j2.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=warn
rootLogger.appenderRef.file.ref=file
PROPS
	java_run kafka.tools.StorageTool format \
		--cluster-id "$(java_run kafka.tools.StorageTool random-uuid)" \
		--config "$KAFKA_STATE/server.properties" >"$KAFKA_STATE/format.log" 2>&1 ||
		{ cat "$KAFKA_STATE/format.log" >&2; return 1; }
}

wait_ready() {
	local deadline=$((SECONDS + 90))
	until java_run org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --list >/dev/null 2>&1; do
		if ! running; then
			echo "kafka: broker exited during start; last log lines:" >&2
			tail -n 30 "$KAFKA_STATE/server.log" "$KAFKA_STATE/stdout.log" >&2 || true
			return 1
		fi
		if ((SECONDS > deadline)); then
			echo "kafka: broker not answering on $bootstrap after 90 s" >&2
			return 1
		fi
		sleep 0.5
	done
}

start() {
	if running; then
		echo "kafka: already running on $bootstrap (pid $(cat "$KAFKA_STATE/pid"))"
		return 0
	fi
	# setsid: the broker must outlive the make recipe that started it.
	# shellcheck disable=SC2086
	# shellcheck disable=SC2046
	setsid java $KAFKA_HEAP -XX:+UseG1GC $(logging) \
		-cp "$(classpath)" kafka.Kafka "$KAFKA_STATE/server.properties" \
		>"$KAFKA_STATE/stdout.log" 2>&1 </dev/null &
	echo $! >"$KAFKA_STATE/pid"
	wait_ready
	echo "kafka: $KAFKA_VERSION up on $bootstrap (pid $(cat "$KAFKA_STATE/pid"), state $KAFKA_STATE)"
}

create_topics() {
	local t n
	for t in "${topics[@]}"; do
		n=$KAFKA_PARTITIONS
		[[ $t == transactions-input ]] && n=$KAFKA_INPUT_PARTITIONS
		java_run org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --create --if-not-exists \
			--topic "$t" --partitions "$n" --replication-factor 1 >/dev/null
	done
	echo "kafka: topics ${topics[*]} (transactions-input $KAFKA_INPUT_PARTITIONS partitions, the others $KAFKA_PARTITIONS)"
}

stop() {
	running || return 0
	local pid
	pid=$(cat "$KAFKA_STATE/pid")
	kill -TERM "$pid"
	for _ in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "kafka: pid $pid ignored SIGTERM for 30 s, killing" >&2
		kill -KILL "$pid"
	fi
	rm -f "$KAFKA_STATE/pid"
}

case "${1:-}" in
up)
	"$here/fetch-kafka.sh"
	if running; then
		echo "kafka: already running on $bootstrap"
		exit 0
	fi
	configure
	start
	# KAFKA_CREATE_TOPICS=0: the caller creates them (config/local: from the KafkaTopic objects).
	[[ ${KAFKA_CREATE_TOPICS:-1} == 0 ]] || create_topics
	;;
start) start ;;
stop) stop ;;
down)
	stop
	if [[ -f "$KAFKA_STATE/data" ]]; then rm -rf "$(cat "$KAFKA_STATE/data")"; fi
	rm -rf "$KAFKA_STATE"
	echo "kafka: down"
	;;
topic)
	# topic NAME [PARTITIONS]: create one more topic (benchmarks, experiments).
	java_run org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --create --if-not-exists \
		--topic "${2:?topic name}" --partitions "${3:-$KAFKA_PARTITIONS}" --replication-factor 1 >/dev/null
	;;
perf)
	# perf ARGS...: Kafka's own kafka-producer-perf-test (ProducerPerformance), same jars.
	shift
	java_run org.apache.kafka.tools.ProducerPerformance "$@"
	;;
status) running ;;
classpath) classpath ;;
*)
	echo "usage: $0 up|down|start|stop|status|topic|perf|classpath" >&2
	exit 2
	;;
esac
