#!/usr/bin/env bash
# Regenerates libs/e2b/src/gen from libs/e2b/proto (envd's process and filesystem services, written
# from the wire contract) with protoc-gen-es. The output is committed, so builds need no protoc.
# --check: generates into a temporary folder and fails when the committed code differs.
set -euo pipefail
cd "$(dirname "$0")/../libs/e2b"
export PATH="$PWD/../../node_modules/.bin:$PATH"
if [ "${1:-}" = --check ]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
  buf generate --output "$out"
  diff -r "$out/src/gen" src/gen || { echo "libs/e2b/src/gen is stale: run scripts/generate-envd-proto.sh" >&2; exit 1; }
  echo "envd code up to date"
else
  buf generate
fi
