#!/usr/bin/env bash
# Command 1: set up and run sandboxd on the embedded default (SQLite + in-process cache).
# Installs npm dependencies, makes sure a Docker engine answers, builds the demo image, builds and
# starts the API in the foreground. Environment variables (see README) pass through.
set -euo pipefail
source "$(dirname "$0")/lib/setup.sh"

ensure_node_deps
ensure_docker
ensure_demo_image
cd "$REPO_ROOT"
log "building the API"
npm run --silent build
host="${HOST:-127.0.0.1}"
log "Swagger UI: http://${host}:${PORT:-8080}/docs   (demo image: sandboxd/demo:latest)"
exec node dist/apps/sandbox-api/main.js
