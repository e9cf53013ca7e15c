#!/usr/bin/env bash
# Creates or refreshes .venv-moto (moto's S3 server + the AWS CLI, for the publish/sync tests and bench); no-op when current.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/ensure-venv.sh .venv-moto tests/python/requirements-moto.lock.txt
