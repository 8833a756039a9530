#!/usr/bin/env bash
# Builds the tiny offline demo image sandboxd/demo:latest from Debian's busybox-static and
# bash-static (bash and a nohup, so ROCK's and E2B's quick starts run as on their own services).
# No registry is needed: the image is a hand-made root filesystem fed to `docker import`, so tests
# and demos work on machines that cannot pull. Idempotent: does nothing if the image of this
# revision exists (an older revision is rebuilt).
#
# Usage: scripts/build-demo-image.sh [--force]   (--force rebuilds even if the image exists)
set -euo pipefail

IMAGE="${DEMO_IMAGE:-sandboxd/demo:latest}"
BUSYBOX=/bin/busybox
BASH_STATIC=/bin/bash-static
APPLETS=(sh ash sleep cat echo ls mkdir rm touch id ps kill wc head tail yes dd env true false
  printf test grep sed mv cp ln chmod pwd date uname hostname whoami nc wget sync mkfifo setsid
  stat timeout)
# Bumped whenever the content changes, so machines holding an older build rebuild it.
REVISION=2

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    *) echo "usage: $0 [--force]" >&2; exit 2 ;;
  esac
done

present="$(docker image inspect --format '{{ index .Config.Labels "demo.revision" }}' "$IMAGE" 2>/dev/null || true)"
if [[ "$force" -eq 0 && "$present" == "$REVISION" ]]; then
  echo "$IMAGE present"
  exit 0
fi

# The static builds matter: the image has no libc, so dynamically linked binaries would not run.
missing=()
[[ -x "$BUSYBOX" ]] || missing+=(busybox-static)
[[ -x "$BASH_STATIC" ]] || missing+=(bash-static)
if [[ "${#missing[@]}" -gt 0 ]]; then
  if [[ "$(id -u)" -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || {
    "${sudo[@]}" apt-get update -qq >/dev/null 2>&1
    "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
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
cp "$BASH_STATIC" "$rootfs/bin/bash"
# busybox-static has no nohup applet: this is POSIX's nohup (SIGHUP ignored, terminal output to
# nohup.out, 125 for a usage error, 126/127 when the command cannot be run).
cat >"$rootfs/bin/nohup" <<'NOHUP'
#!/bin/sh
if [ "$#" -eq 0 ]; then
  echo 'usage: nohup COMMAND [ARG]...' >&2
  exit 125
fi
trap '' HUP
if [ -t 1 ]; then
  exec >>nohup.out || exit 125
fi
if [ -t 2 ]; then
  exec 2>&1
fi
exec "$@"
NOHUP
chmod 0755 "$rootfs/bin/nohup"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"

# Owner root and a fixed mtime keep the layer the same whoever builds it.
tar --numeric-owner --owner=0 --group=0 --mtime='2024-01-01 00:00:00' -C "$rootfs" -c . |
  docker import \
    --change 'ENV PATH=/bin' \
    --change 'CMD ["sh"]' \
    --change "LABEL demo.revision=$REVISION" \
    - "$IMAGE" >/dev/null

if [[ -n "$previous" ]]; then
  # Fails harmlessly while a container still uses the old image.
  docker image rm "$previous" >/dev/null 2>&1 || true
fi

echo "$IMAGE built"
