#!/usr/bin/env bash
# Creates or refreshes the project's Python venv (.venv) from the pinned lock; a no-op when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
stamp="$venv/.lock-sha256"
want=$(sha256sum requirements.lock.txt | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null; then
  echo "error: python3 not found; fix: install Python 3.10-3.12 (e.g. apt-get install python3 python3-venv)" >&2
  exit 12
fi
echo "Creating the Python venv in $venv (TensorFlow, first time only; pip caches the wheels)…" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r requirements.lock.txt
echo "$want" >"$stamp"
