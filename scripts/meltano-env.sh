#!/usr/bin/env bash
# Creates the virtualenvs of the Meltano / Singer-targets end-to-end tests (tests/meltano/):
#   .venv-meltano/                  Meltano, pytest and singer-python (its message and metric parsers)
#   .venv-targets/target-jsonl/     the loader target-jsonl   (own venv: it pins jsonschema 2.6.0)
#   .venv-targets/target-duckdb/    the SQL loader target-duckdb
# at the versions pinned in tests/meltano/requirements*.txt and constraints.txt, from PyPI.
# The tests point Meltano's loaders at these executables (no pip_url), so no test installs anything.
# Idempotent: a venv whose pinned files are unchanged and that is whole is kept as it is; when they
# change it is made anew. Prints how long each step took.
# PYTHON=/path/to/python picks the interpreter (CPython 3.10 to 3.12); otherwise the first of
# python3.11, python3.12, python3.10, python3 that fits is used.
# Then: .venv-meltano/bin/python -m pytest tests/meltano -q   (after cargo build --bins)
set -euo pipefail
cd "$(dirname "$0")/.."

req=tests/meltano
pip_flags=(--disable-pip-version-check --no-input --quiet --progress-bar off)
export PIP_DISABLE_PIP_VERSION_CHECK=1

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
say() { echo "meltano-env.sh: $*" >&2; }

fits='import sys, venv, ensurepip; sys.exit(0 if (3, 10) <= sys.version_info[:2] < (3, 13) else 1)'
python=""
for candidate in ${PYTHON:-} python3.11 python3.12 python3.10 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "$fits" >/dev/null 2>&1; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  say "no CPython 3.10-3.12 with venv and ensurepip found (set PYTHON=...)"
  exit 1
fi

# ensure_venv DIR CHECK FILE... -- INSTALL-COMMANDS: (re)creates DIR unless its stamp matches FILES
# and CHECK (a shell command run with DIR's bin/ first on PATH) succeeds.
ensure_venv() {
  local dir=$1 check=$2
  shift 2
  local files=()
  while [ "$1" != "--" ]; do files+=("$1"); shift; done
  shift
  local want start
  want="$(cat "${files[@]}" | sha256sum | cut -d' ' -f1)"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.installed" 2>/dev/null || true)" = "$want" ] \
    && PATH="$dir/bin:$PATH" bash -c "$check" >/dev/null 2>&1; then
    say "$dir up to date"
    return 0
  fi
  start=$(now)
  say "creating $dir with $("$python" --version 2>&1)"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$@"
  if ! PATH="$dir/bin:$PATH" bash -c "$check" >/dev/null; then
    say "$dir: the check '$check' failed after the install"
    exit 1
  fi
  echo "$want" >"$dir/.installed"
  say "$dir ready in $(since "$start")"
}

total=$(now)

install_meltano() {
  .venv-meltano/bin/python -m pip install "${pip_flags[@]}" -r "$req/requirements.txt" -c "$req/constraints.txt"
  .venv-meltano/bin/python -m pip install "${pip_flags[@]}" --no-deps -r "$req/requirements-nodeps.txt"
}
ensure_venv .venv-meltano \
  'meltano --version && python -c "import pytest, yaml, singer, singer.metrics; singer.parse_message(\"{\\\"type\\\":\\\"STATE\\\",\\\"value\\\":{}}\")"' \
  "$req/requirements.txt" "$req/constraints.txt" "$req/requirements-nodeps.txt" -- install_meltano

mkdir -p .venv-targets
for target in target-jsonl target-duckdb; do
  file="$req/requirements-$target.txt"
  # shellcheck disable=SC2317  # called through ensure_venv
  install_target() { ".venv-targets/$target/bin/python" -m pip install "${pip_flags[@]}" -r "$file"; }
  # A target reads Singer messages on stdin: an empty input must exit 0.
  case $target in
    target-duckdb) check="python -c 'import target_duckdb, duckdb'" ;;
    *) check="$target </dev/null" ;;
  esac
  ensure_venv ".venv-targets/$target" "$check" "$file" -- install_target
done

say "meltano $(.venv-meltano/bin/meltano --version 2>/dev/null | sed 's/.*version //'), \
$(.venv-targets/target-jsonl/bin/python -m pip show target-jsonl 2>/dev/null | sed -n 's/^Version: /target-jsonl /p'), \
$(.venv-targets/target-duckdb/bin/python -m pip show target-duckdb 2>/dev/null | sed -n 's/^Version: /target-duckdb /p'); \
all done in $(since "$total")"
