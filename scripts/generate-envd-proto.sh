#!/usr/bin/env bash
# Regenerates libs/e2b/src/gen from libs/e2b/proto (envd's process and filesystem services, written
# from the wire contract) with protoc-gen-es. The output is committed, so builds need no protoc.
set -euo pipefail
cd "$(dirname "$0")/../libs/e2b"
PATH="$PWD/../../node_modules/.bin:$PATH" buf generate
