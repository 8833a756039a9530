#!/usr/bin/env bash
# Builds the sandboxd image (sandboxd/sandboxd:latest) with no registry: no base image is pulled.
# The root filesystem is assembled from what this machine has installed (its Node.js and the
# shared libraries it links, dash, util-linux's mount, umount and flock for LOG_ROOT's mount,
# xfs_quota when present) plus the built app and its production node_modules, and handed to
# `docker import`. The image runs `node dist/apps/sandbox-api/main.js` in /app, like the
# Dockerfile's, so deploy/swarm/stack.yml and docker-compose.yml can use either.
#
# Usage: scripts/build-image.sh [image]   (default: $SANDBOXD_IMAGE or sandboxd/sandboxd:latest)
# Needs: a built app (npm run build; built here if missing), node_modules, a Docker engine.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
IMAGE="${1:-${SANDBOXD_IMAGE:-sandboxd/sandboxd:latest}}"
cd "$REPO_ROOT"

log() { printf '==> %s\n' "$*" >&2; }

[[ -d node_modules ]] || { echo "node_modules is missing: run npm ci first" >&2; exit 1; }
if [[ ! -f dist/apps/sandbox-api/main.js ]]; then
  log "building the app"
  npm run --silent build
fi

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT

# Copies a program and every shared library it links (as ldd resolves them here), at the same
# paths, so it runs in the image exactly as on this machine.
copy_with_libs() {
  local program="$1"
  cp -L --parents "$program" "$rootfs"
  ldd "$program" 2>/dev/null | grep -oE '(/[^ ]+)' | while read -r lib; do
    [[ -e "$lib" ]] && cp -L --parents "$lib" "$rootfs"
  done
}

log "assembling the root filesystem from $(command -v node) ($(node --version))"
for program in "$(command -v node)" "$(command -v dash)" "$(command -v mount)" \
  "$(command -v umount)" "$(command -v flock)"; do
  copy_with_libs "$program"
done
# Optional: XFS project quotas are detected with it when the data root is on XFS.
if command -v xfs_quota >/dev/null 2>&1; then copy_with_libs "$(command -v xfs_quota)"; fi
mkdir -p "$rootfs/bin" "$rootfs/usr/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/app"
chmod 1777 "$rootfs/tmp"
ln -sf "$(command -v dash)" "$rootfs/bin/sh"
# Node is looked up on PATH as `node` by the CMD.
[[ -e "$rootfs/usr/bin/node" ]] || ln -sf "$(command -v node)" "$rootfs/usr/bin/node"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\n' >"$rootfs/etc/group"

log "copying the app and its production dependencies"
cp -a dist package.json package-lock.json "$rootfs/app/"
cp -a node_modules "$rootfs/app/"
# Offline: prune only removes what the lock file marks dev; native builds (better-sqlite3) stay.
(cd "$rootfs/app" && npm prune --omit=dev --no-audit --no-fund --ignore-scripts >/dev/null)

log "importing $IMAGE ($(du -sh "$rootfs" | cut -f1))"
tar -C "$rootfs" -c . | docker import \
  --change 'WORKDIR /app' \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin NODE_ENV=production HOST=0.0.0.0 PORT=8080' \
  --change 'EXPOSE 8080' \
  --change 'CMD ["node", "dist/apps/sandbox-api/main.js"]' \
  --change "LABEL io.sandboxd.image=sandboxd io.sandboxd.node-version=$(node --version)" \
  - "$IMAGE" >/dev/null
log "built $IMAGE"
docker image inspect --format '{{.Id}} {{.Size}} bytes' "$IMAGE"
