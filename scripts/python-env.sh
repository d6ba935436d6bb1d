#!/usr/bin/env bash
# Creates the virtualenv .venv-e2e/ of the Python end-to-end tests (tests/python/): PyAirbyte, the
# Airbyte protocol models and pytest, at the versions pinned in tests/python/requirements.txt, every
# dependency pinned by tests/python/constraints.txt. Idempotent: while both files are unchanged and
# the venv is whole, a rerun returns at once; when they change, the venv is made anew.
# PYTHON=/path/to/python picks the interpreter (PyAirbyte needs CPython 3.10 to 3.12); otherwise
# the first of python3.12, python3.11, python3.10, python3 that fits is used.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-e2e
req=tests/python/requirements.txt
con=tests/python/constraints.txt
stamp="$venv/.installed"
want="$(cat "$req" "$con" | sha256sum | cut -d' ' -f1)"

if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ] \
  && "$venv/bin/python" -c 'import airbyte_protocol.models, pytest' >/dev/null 2>&1; then
  exit 0
fi

fits='import sys, venv, ensurepip; sys.exit(0 if (3, 10) <= sys.version_info[:2] < (3, 13) else 1)'
python=""
for candidate in ${PYTHON:-} python3.12 python3.11 python3.10 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "$fits" >/dev/null 2>&1; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  echo "python-env.sh: no CPython 3.10-3.12 with venv and ensurepip found (set PYTHON=...)" >&2
  exit 1
fi

echo "python-env.sh: creating $venv with $("$python" --version 2>&1) and installing $req" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
pip_install() {
  "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet --progress-bar off "$@"
}
# uv (a PyAirbyte dependency, pinned by the constraints) installs the ~180 packages in seconds
# where pip takes about a minute; pip alone is the fallback.
if pip_install uv -c "$con" && "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" -r "$req" -c "$con"; then
  :
else
  echo "python-env.sh: uv failed; installing with pip" >&2
  pip_install -r "$req" -c "$con"
fi
"$venv/bin/python" -c 'import airbyte_protocol.models, pytest'
echo "$want" >"$stamp"
echo "python-env.sh: $venv ready" >&2
