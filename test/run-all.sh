#!/usr/bin/env bash
# Every test: typecheck, unit, then the integration and workflow suites on the real
# local stack (started here if it is not running).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t0=$SECONDS
step() { printf '\n=== %s (%d s)\n' "$*" "$((SECONDS - t0))"; }

[[ -d node_modules ]] || npm ci --no-audit --no-fund
step "typecheck"
npx tsc -p tsconfig.json
step "unit tests"
GANTRY_SUITE=unit npx vitest run test/unit
step "local stack"
bash test/stack/stack.sh up
# shellcheck disable=SC1091
source "${GANTRY_STACK_DIR:-$HOME/.cache/gantry/stack}/env"
step "integration tests"
npx vitest run test/integration test/bench
if compgen -G "test/workflows/*.test.ts" >/dev/null; then
  step "workflow tests"
  npx vitest run test/workflows
fi
step "all tests passed"
