#!/usr/bin/env bash
# The project's whole test suite: types, lint, shell scripts, jest, pytest. Run as `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in sshd shellcheck nginx; do
  path=$(command -v "$tool" || ls "/usr/sbin/$tool" 2>/dev/null || true)
  if [[ -z $path ]]; then
    echo "error: '$tool' is missing; fix: run 'bash .ci/run' once (installs openssh-server, shellcheck, nginx-light, rsync)" >&2
    exit 12
  fi
done
bash scripts/ensure-venv.sh
bash scripts/ensure-moto-venv.sh

echo "== tsc"; npx tsc --noEmit
echo "== biome"; npx biome check .
echo "== layout (dependency-cruiser)"
npx depcruise --config .dependency-cruiser.cjs index.ts scripts cli infra bootstrap client serving model-prep common tests
echo "== shellcheck"; git ls-files -z --cached --others --exclude-standard '*.sh' '.ci/run' | xargs -0 -r shellcheck
echo "== jest"; npx jest --ci
echo "== pytest"; .venv/bin/python -m pytest -q tests/python
