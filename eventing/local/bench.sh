#!/usr/bin/env bash
# make bench-kafka: the Kafka path's numbers, on a fresh local broker, all in one run.
#  1. loadgen's pacing accuracy per phase, 50 → 200 → 500 → 1500 TPS (target vs achieved);
#  2. the highest rate loadgen sends to the broker (acks=all, idempotent) beside Kafka's own
#     kafka-producer-perf-test (ProducerPerformance, same jars, same record size, same run);
#  3. end-to-end transactions/s loadgen → function (Kafka mode) → fraud-predictions, offered while
#     loadgen sends (above the goal, and 3a at the goal), and (3b) draining a backlog with loadgen idle;
#  4. the end-to-end p99 latency at a steady 1,500 TPS.
# Reports (JSON) go to $BENCH_OUT (default $CACHE/bench-kafka); a summary is printed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
: "${CACHE:=$HOME/.cache/fraud-detector}"
: "${BENCH_OUT:=$CACHE/bench-kafka}"
: "${BENCH_PHASE:=20s}"       # length of each accuracy phase
: "${BENCH_E2E_RATE:=15000}"  # offered rate for the end-to-end throughput run
: "${BENCH_GOAL_RATE:=10000}"  # the end-to-end goal, offered to see whether it is kept up with
: "${BENCH_MAX_RECORDS:=1000000}"
export KAFKA_PORT=${BENCH_KAFKA_PORT:-19392} KAFKA_CONTROLLER_PORT=${BENCH_KAFKA_CONTROLLER_PORT:-19393}
export KAFKA_STATE=${TMPDIR:-/tmp}/fraud-detector-kafka-bench
kafka="$root/eventing/local/kafka.sh"
brokers=127.0.0.1:$KAFKA_PORT
work=$(mktemp -d)
mkdir -p "$BENCH_OUT"
fn_pid=
cleanup() {
	if [[ -n $fn_pid ]] && kill -0 "$fn_pid" 2>/dev/null; then kill -TERM "$fn_pid"; wait "$fn_pid" || true; fi
	"$kafka" down >&2 || true
	rm -rf "$work"
}
trap cleanup EXIT
(cd "$root" && go build -o "$work/fraud-detector" ./function/cmd/fraud-detector && go build -o "$work/loadgen" ./loadgen)
"$kafka" down >/dev/null 2>&1 || true
"$kafka" up >&2
lg() { "$work/loadgen" --brokers "$brokers" --quiet "$@"; }

echo "== 1. pacing accuracy (each phase $BENCH_PHASE)" >&2
lg --topic transactions-input --phases "50:$BENCH_PHASE,200:$BENCH_PHASE,500:$BENCH_PHASE,1500:$BENCH_PHASE" \
	--report "$BENCH_OUT/accuracy.json" >&2

echo "== 2. highest send rate: loadgen (asks 400,000/s for 5 s) and kafka-producer-perf-test" >&2
"$kafka" topic bench-max 12
lg --topic bench-max --phases 400000:5s --report "$BENCH_OUT/max-loadgen.json" >&2
# The same record size as loadgen's JSON transactions: the simulator's records with a run prefix
# average 165 bytes.
"$kafka" perf --topic bench-max --num-records "$BENCH_MAX_RECORDS" --record-size 165 --throughput -1 \
	--producer-props bootstrap.servers="$brokers" acks=all enable.idempotence=true | tee "$work/perf.txt" >&2

echo "== 3. end-to-end throughput at $BENCH_E2E_RATE/s offered for 10 s" >&2
start_function() {
	EVENT_CLOCK=stream FUNC_TRANSPORT=kafka KAFKA_BROKERS=$brokers KAFKA_TOPIC="$1" PREDICTIONS_TOPIC="$2" KAFKA_CONSUMER_GROUP="$1-fd" \
		LISTEN_ADDRESS=127.0.0.1:0 "$work/fraud-detector" >"$work/function-$1.log" 2>&1 &
	fn_pid=$!
	# Measure from the moment the function owns its partitions, not from its group join.
	for _ in $(seq 1 600); do
		grep -q '"kafka partitions assigned"' "$work/function-$1.log" && return 0
		sleep 0.1
	done
	echo "bench: the function did not join its group within 60 s" >&2
	return 1
}
stop_function() { kill -TERM "$fn_pid"; wait "$fn_pid" || true; fn_pid=; }
"$kafka" topic e2e-in 48
"$kafka" topic e2e-out 12
start_function e2e-in e2e-out
lg --topic e2e-in --verify-topic e2e-out --drain-timeout 20s --phases "$BENCH_E2E_RATE:10s" --report "$BENCH_OUT/e2e-throughput.json" >&2
# The goal rate, offered for 10 s: does the whole pipeline keep up with it on this machine, or does
# a backlog (end-to-end latency growing through the run) form?
echo "== 3a. end-to-end at the goal, $BENCH_GOAL_RATE/s offered for 10 s" >&2
lg --topic e2e-in --verify-topic e2e-out --drain-timeout 20s --phases "$BENCH_GOAL_RATE:10s" --report "$BENCH_OUT/e2e-goal.json" >&2
stop_function

echo "== 3b. the function alone: a backlog of 200,000 transactions drained (loadgen idle meanwhile)" >&2
"$kafka" topic drain-in 48
"$kafka" topic drain-out 12
lg --topic drain-in --verify-topic drain-out --drain-timeout 30s --phases 40000:5s --report "$BENCH_OUT/e2e-drain.json" \
	>"$work/drain.out" 2>"$work/drain.err" &
lg_pid=$!
until grep -qs "sending done" "$work/drain.err"; do
	kill -0 "$lg_pid" 2>/dev/null || { cat "$work/drain.err" >&2; exit 1; }
	sleep 0.2
done
start_function drain-in drain-out
wait "$lg_pid"
cat "$work/drain.out" >&2
stop_function

echo "== 4. end-to-end latency at 1,500 TPS for 60 s (after 5 s of warm-up)" >&2
"$kafka" topic lat-in 48
"$kafka" topic lat-out 12
start_function lat-in lat-out
# A warm-up on the same topics and function first (new topics' metadata, the first produce batches,
# the JIT of the broker): the measured run is the steady state; its prefix keeps the two apart.
lg --topic lat-in --verify-topic lat-out --drain-timeout 20s --phases 1500:5s --report "$BENCH_OUT/e2e-latency-warmup.json" >&2
lg --topic lat-in --verify-topic lat-out --drain-timeout 20s --phases 1500:60s --report "$BENCH_OUT/e2e-latency.json" >&2
stop_function

echo
echo "Kafka benchmark ($(nproc) cores, Kafka $KAFKA_VERSION, $(date -u +%FT%TZ)); reports in $BENCH_OUT"
jq -r '.phases[] | "pacing   target \(.target_tps)/s  achieved \(.achieved_tps|.*10|round/10)/s  (\((.achieved_tps/.target_tps-1)*10000|round/100) %)  sent \(.sent)  p99 produce \(.latency_ms.p99) ms"' "$BENCH_OUT/accuracy.json"
jq -r '"max      loadgen: \(.phases[0].acked) records acknowledged at \(.phases[0].acked_tps|round)/s (handed over at \(.phases[0].achieved_tps|round)/s; acks=all, idempotent; p99 \(.phases[0].latency_ms.p99) ms from schedule)"' "$BENCH_OUT/max-loadgen.json"
echo "max      kafka-producer-perf-test: $(tail -n 1 "$work/perf.txt")"
jq -r '"e2e      \(.delivery.predicted) predictions at \(.delivery.throughput_tps|round)/s (offered \(.phases[0].target_tps)/s); lost \(.delivery.lost), duplicates \(.delivery.duplicates)"' "$BENCH_OUT/e2e-throughput.json"
jq -r '"goal     \(.delivery.predicted) predictions at \(.delivery.throughput_tps|round)/s (offered \(.phases[0].target_tps)/s); end-to-end p50 \(.delivery.end_to_end_latency_ms.p50) ms, p99 \(.delivery.end_to_end_latency_ms.p99) ms; lost \(.delivery.lost)"' "$BENCH_OUT/e2e-goal.json"
jq -r '"drain    the function alone: \(.delivery.predicted) predictions of a backlog at \(.delivery.throughput_tps|round)/s; lost \(.delivery.lost)"' "$BENCH_OUT/e2e-drain.json"
jq -r '"latency  at 1500/s: end-to-end p50 \(.delivery.end_to_end_latency_ms.p50) ms, p99 \(.delivery.end_to_end_latency_ms.p99) ms, p99.9 \(.delivery.end_to_end_latency_ms.p99_9) ms; lost \(.delivery.lost)"' "$BENCH_OUT/e2e-latency.json"
