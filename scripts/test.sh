#!/usr/bin/env bash
# Command 2: set up and pass every test. Everything run.sh needs, plus PostgreSQL and Redis from
# Debian's packages (started when not running), xfsprogs and gVisor's runsc for the tests on a
# second engine, iproute2 for the cluster tests, then lint, build, unit, integration, e2e and
# cluster tests.
set -euo pipefail
source "$(dirname "$0")/lib/setup.sh"

ensure_node_deps
ensure_docker
ensure_demo_image
ensure_postgres
ensure_redis
ensure_xfsprogs
ensure_chromium
ensure_runsc
ensure_cluster_tools
cd "$REPO_ROOT"

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://sandboxd:sandboxd@127.0.0.1:5432/sandboxd_test}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
# What tests leave for a person to look at (the Swagger UI screenshot).
export TEST_OUTPUT_DIR="${TEST_OUTPUT_DIR:-$REPO_ROOT/test/output}"

log "lint"
npm run --silent lint
log "OpenAPI document and SDK types up to date"
npx ts-node -r tsconfig-paths/register scripts/generate-openapi.ts --check
log "envd Connect code up to date"
bash scripts/generate-envd-proto.sh --check
log "build"
npm run --silent build
results="$(mktemp -d)"
status=0
log "unit tests"
npx jest --ci --json --outputFile="$results/unit.json" || status=1
log "integration tests"
npx jest --ci -c test/jest-integration.config.js --runInBand --json --outputFile="$results/integration.json" || status=1
log "e2e tests"
npx jest --ci -c test/jest-e2e.config.js --runInBand --json --outputFile="$results/e2e.json" || status=1
log "cluster tests (a three-node Docker Swarm in network namespaces)"
npx jest --ci -c test/jest-cluster.config.js --runInBand --json --outputFile="$results/cluster.json" || status=1
node scripts/lib/summarize-jest.js "$results"/*.json || status=1
exit "$status"
