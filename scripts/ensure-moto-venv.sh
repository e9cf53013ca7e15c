#!/usr/bin/env bash
# Creates or refreshes .venv-moto (moto's S3 server + the AWS CLI, for the publish/sync tests and bench); no-op when current.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-moto
lock=tests/python/requirements-moto.lock.txt
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
echo "Creating $venv (moto S3 server and AWS CLI, first time only)…" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$lock"
echo "$want" >"$stamp"
