#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs and starts what is missing, then
# lint, layer/circularity check, typecheck, unit and integration tests against real Docker, Redis and sshd.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
  echo "scripts/test.sh installs and starts system services: run it as root (or with sudo available)." >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

$SUDO bash scripts/ensure-services.sh

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

echo "== lint"; npx eslint .
echo "== layers and circular imports"; npm run -s depcheck
echo "== typecheck"; npx tsc -p tsconfig.json --noEmit
echo "== tests"
report="$(mktemp -t cdb-vitest-XXXXXX.json)"
status=0
npx vitest run --reporter=default --reporter=json --outputFile="$report" "$@" || status=$?
# One plain closing line that any CI can read.
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`)' "$report" || true
rm -f "$report"
exit "$status"
