#!/usr/bin/env bash
# Benchmark tap-stripe against singer-io tap-stripe 3.3.0 and Airbyte source-stripe 5.14.1
# on the project's fake Stripe server. See BENCHMARKS.md.
#   bench/run.sh [--only tap-stripe,singer-io,airbyte] [a] [b] [c] [d] [e] [f] [m] [s]   (default: a c d e f m)
#   BENCH_A_N=20000 bench/run.sh a        # smaller dataset (also BENCH_B_N, BENCH_C_N)
#   BENCH_ANCHORS_C=1 bench/run.sh c      # also run the two anchors in the memory scenario
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}

cargo build --release --workspace >&2
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time): apt-get install time" >&2; exit 1; }
if [ ! -x bench/.venv-singer/bin/python ] || ! bench/.venv-singer/bin/pip show -q tap-stripe >/dev/null 2>&1; then
  "$PY" -m venv bench/.venv-singer
  bench/.venv-singer/bin/pip install -q 'tap-stripe==3.3.0' >&2
fi
if [ ! -x bench/.venv-airbyte/bin/python ] || ! bench/.venv-airbyte/bin/pip show -q airbyte-source-stripe >/dev/null 2>&1; then
  "$PY" -m venv bench/.venv-airbyte
  bench/.venv-airbyte/bin/pip install -q 'airbyte-source-stripe==5.14.1' >&2
fi
# The Singer targets of scenario (d), pinned like the Meltano tests' (tests/meltano/requirements-*.txt).
for target in target-jsonl target-duckdb; do
  if [ ! -x "bench/.venv-$target/bin/$target" ]; then
    "$PY" -m venv "bench/.venv-$target"
    "bench/.venv-$target/bin/pip" install -q -r "tests/meltano/requirements-$target.txt" >&2
  fi
done
exec "$PY" bench/bench.py "$@"
