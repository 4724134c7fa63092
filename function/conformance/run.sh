#!/usr/bin/env bash
# make test-conformance: the CloudEvents conformance tool (github.com/cloudevents/conformance
# v0.2.0, built from this folder's module, cached by version) against the real function binary on
# the built-in model. Our own events (events.yaml: KafkaSource's shape and fraud.transaction.v1, in
# binary and structured mode, and a signed label) must each get a 2xx and be scored; the tool's
# bundled v1.0 events (foreign types) must each get a 4xx, never a 5xx. The tool's YAML has no
# batch mode, so batches are tested elsewhere (function tests, loadgen's HTTP target).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CACHE=${CACHE:-$HOME/.cache/fraud-detector}
version=$(awk '$1 == "require" && $2 == "github.com/cloudevents/conformance" {print $3}' "$here/go.mod")
tool=$CACHE/bin/cloudevents-conformance-$version
if [[ ! -x $tool ]]; then
	mkdir -p "$CACHE/bin"
	(cd "$here" && go build -o "$tool.tmp" github.com/cloudevents/conformance/cmd/cloudevents && mv "$tool.tmp" "$tool")
fi
bundled=$(cd "$here" && go list -m -f '{{.Dir}}' github.com/cloudevents/conformance)/yaml
work=$(mktemp -d)
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
(cd "$root" && go build -o "$work/fraud-detector" ./function/cmd/fraud-detector)
EVENT_CLOCK=stream LABEL_HMAC_KEY=conformance-label-key-0123456789abcdef LISTEN_ADDRESS=127.0.0.1:0 \
	"$work/fraud-detector" 2>"$work/function.log" &
pid=$!
addr=
for _ in $(seq 1 100); do
	addr=$(sed -n 's/.*"msg":"listening".*"address":"\([^"]*\)".*/\1/p' "$work/function.log" | head -n 1)
	[[ -n $addr ]] && break
	sleep 0.1
done
[[ -n $addr ]] || { echo "conformance: the function did not start"; cat "$work/function.log"; exit 1; }

echo "conformance: our events (function/conformance/events.yaml) → http://$addr/"
"$tool" invoke "http://$addr/" -f "$here/events.yaml"
scored=$(curl -fsS "http://$addr/metrics" | awk '/^ml_model_predictions_total/ {s += $NF} END {print s + 0}')
[[ $scored == 4 ]] || { echo "conformance: ml_model_predictions_total=$scored after our 4 transactions"; exit 1; }

# One event per file, so that each answer is checked on its own.
mkdir "$work/bundled"
awk -v dir="$work/bundled" 'BEGIN {n = 1} /^---/ {n++; next} {print > (dir "/" FILENAME_N n ".yaml")}' \
	FILENAME_N=a "$bundled/v1.0/v1_minimum.yaml"
awk -v dir="$work/bundled" 'BEGIN {n = 1} /^---/ {n++; next} {print > (dir "/" FILENAME_N n ".yaml")}' \
	FILENAME_N=b "$bundled/v1.yaml"
want=0
for f in "$work"/bundled/*.yaml; do
	grep -q '^ *type:' "$f" || continue
	want=$((want + 1))
	if out=$("$tool" invoke "http://$addr/" -f "$f" 2>&1); then
		echo "conformance: $(basename "$f") got a 2xx, want a 4xx:"; cat "$f"; exit 1
	fi
	grep -q 'got 4[0-9][0-9]' <<<"$out" || { echo "conformance: $(basename "$f"): $out"; exit 1; }
done
[[ $want -ge 8 ]] || { echo "conformance: only $want bundled events found under $bundled"; exit 1; }
echo "conformance: the tool's $want bundled v1.0 events (foreign types) each got a 4xx"
echo "conformance: passed (4 transactions and 1 label accepted, 4 scored; $want foreign events refused with 4xx)"
