#!/usr/bin/env bash
# Builds tap-stripe's Python package with maturin (see pyproject.toml): one platform wheel,
# py3-none-<this machine's platform>, that installs the `tap-stripe` executable into a
# virtualenv's bin/ (and nothing else), and the sdist. They go to <target>/wheel/dist/ (emptied
# first; <target> is CARGO_TARGET_DIR or target/), and the wheel's path is the last line printed.
#
#   scripts/wheel.sh            the dev profile, stripped: what scripts/test installs and checks
#                               (tests/wheel/, the Meltano and PyAirbyte suites), about 2 minutes on
#                               2 cores from scratch
#   scripts/wheel.sh --release  the release profile: the wheel to publish (README, "Release")
#
# Cargo builds in <target>/wheel/, a target directory of its own: maturin compiles the tap alone
# (not the workspace) and strips it, which must not replace target/debug/tap-stripe.
# Needs .venv-wheel (scripts/wheel-env.sh) or MATURIN=/path/to/maturin.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

profile=(--profile dev)
if [ "${1:-}" = "--release" ]; then
  profile=(--release)
  shift
fi
if [ "$#" -gt 0 ]; then
  echo "usage: scripts/wheel.sh [--release]" >&2
  exit 2
fi
maturin="${MATURIN:-$repo/.venv-wheel/bin/maturin}"
if [ ! -x "$maturin" ]; then
  echo "wheel.sh: $maturin not found: run scripts/wheel-env.sh (or set MATURIN)" >&2
  exit 1
fi
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
dist="$target/wheel/dist"
rm -rf "$dist"
mkdir -p "$dist"

start=$(date +%s)
"$maturin" build "${profile[@]}" --strip --locked --target-dir "$target/wheel" --out "$dist" >&2
"$maturin" sdist --out "$dist" >&2
wheels=("$dist"/*.whl)
if [ "${#wheels[@]}" != 1 ] || [ ! -f "${wheels[0]}" ]; then
  echo "wheel.sh: expected one wheel in $dist, found: $(ls "$dist")" >&2
  exit 1
fi
echo "wheel.sh: built $(cd "$dist" && ls | tr '\n' ' ')in $(($(date +%s) - start)) s" >&2
echo "${wheels[0]}"
