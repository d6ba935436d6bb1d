#!/usr/bin/env bash
# Connect at scale: wall time, peak RSS and the final STATE line of one tap-stripe run over N
# small connected accounts of the fake (charges and customers, about 18 records an account), with
# the rate limits raised to 10,000/s so that the tap, not the limit, is measured. See BENCHMARKS.md,
# "Connect: accounts in flight".
#   bench/connect.sh [N ...]            (default: 10 100 1000 5000)
#   TAP=/path/to/tap-stripe bench/connect.sh 5000   # another build, e.g. a baseline
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p tap-stripe -p fake-stripe >&2
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time): apt-get install time" >&2; exit 1; }
tap=${TAP:-$PWD/target/release/tap-stripe}
work=$(mktemp -d)
trap 'rm -rf "$work"; kill $(jobs -p) 2>/dev/null || true' EXIT
"$tap" --discover | python3 -c '
import json, sys
cat = json.load(sys.stdin)
for s in cat["streams"]:
    for m in s["metadata"]:
        if m["breadcrumb"] == []:
            m["metadata"]["selected"] = s["tap_stream_id"] in ("charges", "customers")
json.dump(cat, open(sys.argv[1], "w"))' "$work/catalog.json"
echo "| connected accounts | wall | peak RSS | records | final STATE line | STATE bytes in all |"
echo "|---|---|---|---|---|---|"
for n in "${@:-10 100 1000 5000}"; do
  for count in $n; do
    target/release/fake-stripe --port 0 --connected-accounts "$count" --customers 2 >"$work/fake.out" 2>&1 &
    fake=$!
    port=""
    for _ in $(seq 600); do
      port=$(grep -oh '127.0.0.1:[0-9]*' "$work/fake.out" | head -1 | cut -d: -f2 || true)
      [ -n "$port" ] && break
      sleep 0.2
    done
    printf '{"client_secret":"sk_test_fake","base_url":"http://127.0.0.1:%s","connected_accounts":"all","start_date":"2020-01-01T00:00:00Z","max_requests_per_second":10000}' "$port" >"$work/config.json"
    /usr/bin/time -o "$work/time" -f "%e %M" "$tap" --config "$work/config.json" --catalog "$work/catalog.json" >"$work/out.jsonl" 2>"$work/err.txt"
    read -r wall rss <"$work/time"
    records=$(grep -c '"type":"RECORD"' "$work/out.jsonl" || true)
    last=$(grep '"type":"STATE"' "$work/out.jsonl" | tail -1 | wc -c)
    all=$(grep '"type":"STATE"' "$work/out.jsonl" | wc -c)
    echo "| $count | $wall s | $((rss / 1024)) MB | $records | $((last / 1024)) KB | $((all / 1024 / 1024)) MB |"
    kill "$fake"
    wait "$fake" 2>/dev/null || true
  done
done
