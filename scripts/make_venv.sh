#!/usr/bin/env bash
# Makes the project's Python environment (or brings it up to date) for the reference checks,
# fixtures and benchmarks: pinned versions, CPU torch, no torchvision.
# Usage: scripts/make_venv.sh DIR REQUIREMENTS-FILE...   (make venv: .venv with
# python/requirements-test.txt; make bench adds python/requirements-bench.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$1; shift
python=${PYTHON3:-python3}
if [ ! -x "$venv/bin/python" ]; then
  # Debian's own python3 makes environments only with python3-venv installed.
  if ! "$python" -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    scripts/ensure_apt.sh python3-venv python3-pip
    "$python" -m venv "$venv"
  fi
fi
args=()
for requirements in "$@"; do args+=(-r "$requirements"); done
echo "installing the pinned Python references into $venv (${*})"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "${args[@]}" -c python/constraints.txt
