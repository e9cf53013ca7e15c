#!/usr/bin/env bash
# Creates or refreshes a Python venv from its pinned lock (default: .venv from requirements.lock.txt); a no-op when up
# to date. Usage: ensure-venv.sh [VENV LOCK] (scripts/ensure-moto-venv.sh makes .venv-moto this way).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
lock=${2:-requirements.lock.txt}
stamp="$venv/.lock-sha256"
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null; then
  echo "error: python3 not found; fix: install Python 3.10-3.12 (e.g. apt-get install python3 python3-venv)" >&2
  exit 12
fi
echo "Creating the Python venv in $venv from $lock (first time only; pip caches the wheels)…" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$lock"
echo "$want" >"$stamp"
