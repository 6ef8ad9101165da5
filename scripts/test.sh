#!/usr/bin/env bash
# The whole test suite, as `npm test` and .ci/run run it: makes sure the Node
# dependencies and the system services the tests need are installed, type-checks,
# then runs every vitest file.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "test: installing Node dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
bash scripts/ensure-services.sh
echo "test: type-checking (tsc --noEmit)"
npx tsc --noEmit -p tsconfig.json
echo "test: running the suite (vitest)"
npx vitest run "$@"
