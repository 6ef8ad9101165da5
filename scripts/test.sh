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
results="$(mktemp -t roomctl-vitest-XXXXXX.json)"
rc=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || rc=$?
# The plain closing line CI reads: "N passed, N failed".
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`)' "$results" 2>/dev/null || true
rm -f "$results"
exit "$rc"
