#!/usr/bin/env bash
# make demo: the whole pipeline on this machine. A fresh Kafka broker, the function in Kafka mode
# (FUNC_TRANSPORT=kafka, consuming transactions-input and fraud-labels, predictions to
# fraud-predictions, poison to transactions-dead-letter), the escalating attack shortened to about
# a minute with live progress, then the predictions read back and one final line
# sent=<n> predicted=<n> lost=<n> duplicates=<n>. Exit status 0 only if nothing was lost.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
: "${DEMO_PHASE:=15s}"                 # each of the four attack phases
export KAFKA_PORT=${DEMO_KAFKA_PORT:-19292} KAFKA_CONTROLLER_PORT=${DEMO_KAFKA_CONTROLLER_PORT:-19293}
export KAFKA_STATE=${TMPDIR:-/tmp}/fraud-detector-kafka-demo
brokers=127.0.0.1:$KAFKA_PORT
# The labelling key: the load generator signs its fraud.label.v1 events with it and the function
# checks them (unsigned labels are refused). A fresh one per run.
LABEL_HMAC_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
export LABEL_HMAC_KEY
work=$(mktemp -d)
fn_pid=
cleanup() {
	if [[ -n $fn_pid ]] && kill -0 "$fn_pid" 2>/dev/null; then
		kill -TERM "$fn_pid"
		wait "$fn_pid" || true
	fi
	"$root/eventing/local/kafka.sh" down >&2 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "demo: building the function and the load generator" >&2
(cd "$root" && go build -o "$work/fraud-detector" ./function/cmd/fraud-detector && go build -o "$work/loadgen" ./loadgen)
"$root/eventing/local/kafka.sh" down >/dev/null 2>&1 || true # leftovers of an interrupted demo
"$root/eventing/local/kafka.sh" up >&2

echo "demo: starting the function in Kafka mode (log: $work/function.log)" >&2
EVENT_CLOCK=stream FUNC_TRANSPORT=kafka KAFKA_BROKERS=$brokers KAFKA_TOPIC=transactions-input,fraud-labels \
	KAFKA_CONSUMER_GROUP=fraud-detector DEAD_LETTER_TOPIC=transactions-dead-letter \
	PREDICTIONS_TOPIC=fraud-predictions LISTEN_ADDRESS=127.0.0.1:0 \
	"$work/fraud-detector" >"$work/function.log" 2>&1 &
fn_pid=$!

status=0
"$work/loadgen" --brokers "$brokers" --profile attack --attack-durations "$DEMO_PHASE" --labels \
	--verify-topic fraud-predictions --drain-timeout 60s --report "$work/report.json" \
	| tee "$work/loadgen.out" || status=$?
line=$(grep -E '^sent=[0-9]+ predicted=' "$work/loadgen.out" | tail -n 1 || true)
if [[ -z $line ]]; then
	echo "demo: the load generator gave no delivery line (exit $status); function log:" >&2
	tail -n 20 "$work/function.log" >&2
	exit 1
fi
kill -TERM "$fn_pid"
wait "$fn_pid" || { echo "demo: the function exited with $?" >&2; status=1; }
fn_pid=
cleanup
trap - EXIT
echo "$line"
exit "$status"
