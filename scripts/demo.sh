#!/usr/bin/env bash
# Full sync of a built-in demo account: starts the project's fake Stripe server with sample data
# on 127.0.0.1, discovers the catalog, selects every stream and syncs it. No Stripe account needed.
# Output: demo-output/sync.jsonl (Singer messages) and demo-output/state.json (the final STATE).
# The tap's stderr (log lines and one METRIC line per HTTP request) goes to demo-output/sync.log and
# demo-output/rerun.log; the terminal gets a short summary of them.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet --bin tap-stripe -p tap-stripe
cargo build --release --quiet -p fake-stripe

out=demo-output
mkdir -p "$out"
fake_log="$out/fake-stripe.log"
./target/release/fake-stripe --port 0 >"$fake_log" 2>&1 &
fake_pid=$!
trap 'kill "$fake_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$fake_log" && break
  sleep 0.1
done
base_url=$(sed -n 's/^listening on \(http[^ ]*\).*/\1/p' "$fake_log" | head -n 1)
[ -n "$base_url" ] || { echo "the fake Stripe server did not start; see $fake_log" >&2; exit 1; }

cat >"$out/config.json" <<JSON
{"client_secret": "sk_test_fake", "base_url": "$base_url"}
JSON
./target/release/tap-stripe --config "$out/config.json" --discover >"$out/catalog.json"
# Select every stream: add "selected": true to each stream-level metadata entry.
sed -i 's/"selected-by-default": false/"selected": true, "selected-by-default": false/g' "$out/catalog.json"

# summary LOG: what a run's stderr says, in a few lines (the METRIC lines stay in LOG).
summary() {
  local log=$1
  echo "  $(grep -c '^INFO METRIC: .*"http_request_duration"' "$log" || true) HTTP requests" \
    "($(grep '^INFO METRIC: .*"http_request_duration"' "$log" | grep -vc '"status":"succeeded"' || true) not succeeded)," \
    "$(grep -c ' WARNING ' "$log" || true) warnings, $(grep -cE ' (ERROR|CRITICAL) ' "$log" || true) errors;" \
    "the log and its METRIC lines: $log"
  grep -E ' (WARNING|ERROR|CRITICAL) ' "$log" | cut -c 26- | head -n 5 \
    | awk '{ print "  " (length($0) > 110 ? substr($0, 1, 107) "..." : $0) }'
}

started=$(date +%s)
if ! ./target/release/tap-stripe --config "$out/config.json" --catalog "$out/catalog.json" >"$out/sync.jsonl" 2>"$out/sync.log"; then
  echo "the sync failed; the end of $out/sync.log:" >&2
  grep -v '^INFO METRIC: ' "$out/sync.log" | tail -n 5 >&2
  exit 1
fi
tail -n 1 "$out/sync.jsonl" | sed 's/^{"type":"STATE","value":\(.*\)}$/\1/' >"$out/state.json"

echo "Records per stream:"
grep -o '^{"type":"RECORD","stream":"[a-z_]*"' "$out/sync.jsonl" | sed 's/.*"stream":"//; s/"$//' | sort | uniq -c
echo "Full sync: $(grep -c '^{"type":"RECORD"' "$out/sync.jsonl") records in $(($(date +%s) - started)) s;"
summary "$out/sync.log"
echo "Singer messages: $out/sync.jsonl; final state: $out/state.json"
echo "Incremental rerun (nothing new: records only of the streams read whole on every run):"
./target/release/tap-stripe --config "$out/config.json" --catalog "$out/catalog.json" --state "$out/state.json" 2>"$out/rerun.log" \
  | grep -o '^{"type":"RECORD","stream":"[a-z_]*"' | sed 's/.*"stream":"//; s/"$//' | sort | uniq -c || true
summary "$out/rerun.log"
