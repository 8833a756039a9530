#!/usr/bin/env bash
# Builds the tiny offline demo image sandboxd/demo:latest from Debian's busybox-static.
# No registry is needed: the image is a hand-made root filesystem fed to `docker import`, so tests
# and demos work on machines that cannot pull. Idempotent: does nothing if the image exists.
#
# Usage: scripts/build-demo-image.sh [--force]   (--force rebuilds even if the image exists)
set -euo pipefail

IMAGE="${DEMO_IMAGE:-sandboxd/demo:latest}"
BUSYBOX=/bin/busybox
APPLETS=(sh ash sleep cat echo ls mkdir rm touch id ps kill wc head tail yes dd env true false
  printf test grep sed mv cp ln chmod pwd date uname hostname whoami nc wget sync)

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    *) echo "usage: $0 [--force]" >&2; exit 2 ;;
  esac
done

if [[ "$force" -eq 0 ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "$IMAGE present"
  exit 0
fi

# The static build matters: the image has no libc, so a dynamically linked busybox would not run.
if [[ ! -x "$BUSYBOX" ]]; then
  if [[ "$(id -u)" -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get install -y -qq busybox-static >/dev/null 2>&1 || {
    "${sudo[@]}" apt-get update -qq >/dev/null 2>&1
    "${sudo[@]}" apt-get install -y -qq busybox-static >/dev/null
  }
fi

# Remembered so a --force rebuild does not leave the old image behind as a dangling one.
previous="$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT

mkdir -p "$rootfs"/{bin,etc,root,tmp,proc,sys,dev}
chmod 1777 "$rootfs/tmp"
cp "$BUSYBOX" "$rootfs/bin/busybox"
for applet in "${APPLETS[@]}"; do
  ln -s busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"

# Owner root and a fixed mtime keep the layer the same whoever builds it.
tar --numeric-owner --owner=0 --group=0 --mtime='2024-01-01 00:00:00' -C "$rootfs" -c . |
  docker import \
    --change 'ENV PATH=/bin' \
    --change 'CMD ["sh"]' \
    - "$IMAGE" >/dev/null

if [[ -n "$previous" ]]; then
  # Fails harmlessly while a container still uses the old image.
  docker image rm "$previous" >/dev/null 2>&1 || true
fi

echo "$IMAGE built"
