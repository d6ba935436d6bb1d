#!/usr/bin/env bash
# Creates the virtualenv .venv-wheel/ that builds and checks tap-stripe's Python package
# (scripts/wheel.sh, tests/wheel/): maturin, twine, uv, packaging and pytest at the versions pinned
# in tests/wheel/requirements.txt, every dependency pinned by tests/wheel/constraints.txt.
# Idempotent: while both files are unchanged and the venv is whole, a rerun returns at once; when
# they change, the venv is made anew.
# PYTHON=/path/to/python picks the interpreter (CPython 3.9 or newer); otherwise the first of
# python3.12, python3.11, python3.10, python3 that fits is used.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-wheel
req=tests/wheel/requirements.txt
con=tests/wheel/constraints.txt
stamp="$venv/.installed"
want="$(cat "$req" "$con" | sha256sum | cut -d' ' -f1)"
check='import packaging.tags, pytest, maturin, twine, uv'

if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ] \
  && "$venv/bin/python" -c "$check" >/dev/null 2>&1 && [ -x "$venv/bin/maturin" ] && [ -x "$venv/bin/uv" ]; then
  exit 0
fi

fits='import sys, venv, ensurepip; sys.exit(0 if sys.version_info[:2] >= (3, 9) else 1)'
python=""
for candidate in ${PYTHON:-} python3.12 python3.11 python3.10 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "$fits" >/dev/null 2>&1; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  echo "wheel-env.sh: no CPython 3.9 or newer with venv and ensurepip found (set PYTHON=...)" >&2
  exit 1
fi

echo "wheel-env.sh: creating $venv with $("$python" --version 2>&1) and installing $req" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet --progress-bar off -r "$req" -c "$con"
"$venv/bin/python" -c "$check"
echo "$want" >"$stamp"
echo "wheel-env.sh: $venv ready" >&2
