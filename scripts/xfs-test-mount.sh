#!/usr/bin/env bash
# Makes a small XFS file system for tests of the quota library: a sparse image file under WORK_DIR,
# formatted with mkfs.xfs and loop-mounted at MOUNT_POINT, with project quota (-o prjquota) when
# the kernel accepts it and without it otherwise. Prints the mount point on stdout; says on stderr
# which kind of mount it made. Idempotent: a second run finds the mount and just reports it.
#
# Usage: scripts/xfs-test-mount.sh [--size 300M] WORK_DIR MOUNT_POINT
#        scripts/xfs-test-mount.sh --teardown WORK_DIR MOUNT_POINT
# Needs root (or password-less sudo) for mount; installs xfsprogs with apt-get if it is missing.
set -euo pipefail

# 300 MiB is the smallest file system current mkfs.xfs agrees to make. Sparse, so it costs little.
size=300M
teardown=0
positional=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size) size="${2:?--size needs a value}"; shift 2 ;;
    --teardown) teardown=1; shift ;;
    -*) echo "usage: $0 [--size 300M] [--teardown] WORK_DIR MOUNT_POINT" >&2; exit 2 ;;
    *) positional+=("$1"); shift ;;
  esac
done
if [[ ${#positional[@]} -ne 2 ]]; then
  echo "usage: $0 [--size 300M] [--teardown] WORK_DIR MOUNT_POINT" >&2
  exit 2
fi
work_dir="${positional[0]}"
mount_point="${positional[1]}"
image="$work_dir/xfs-test.img"

if [[ "$(id -u)" -eq 0 ]]; then sudo=(); else sudo=(sudo -n); fi
say() { echo "xfs-test-mount: $*" >&2; }

is_mounted() { findmnt -n --mountpoint "$mount_point" >/dev/null 2>&1; }

if [[ "$teardown" -eq 1 ]]; then
  if is_mounted; then
    "${sudo[@]}" umount "$mount_point"
  fi
  # mount -o loop sets autoclear, so umount frees the loop device; this catches interrupted runs.
  if [[ -e "$image" ]]; then
    while read -r device; do
      [[ -n "$device" ]] && "${sudo[@]}" losetup -d "$device"
    done < <(losetup -j "$image" -n -O NAME 2>/dev/null || true)
  fi
  rm -f "$image"
  rmdir "$mount_point" 2>/dev/null || true
  say "removed $image and $mount_point"
  exit 0
fi

if ! command -v mkfs.xfs >/dev/null || ! command -v xfs_quota >/dev/null; then
  say "installing xfsprogs"
  "${sudo[@]}" apt-get install -y -qq xfsprogs >/dev/null 2>&1 || {
    "${sudo[@]}" apt-get update -qq >/dev/null
    "${sudo[@]}" apt-get install -y -qq xfsprogs >/dev/null
  }
fi

report() {
  local options
  options="$(findmnt -n -o OPTIONS --mountpoint "$mount_point")"
  if [[ ",$options," == *,prjquota,* || ",$options," == *,pquota,* ]]; then
    say "$mount_point: XFS with prjquota (project quota enforced)"
  else
    say "$mount_point: XFS without prjquota ($options)"
  fi
  echo "$mount_point"
}

if is_mounted; then
  source_device="$(findmnt -n -o SOURCE --mountpoint "$mount_point")"
  backing="$(losetup -n -O BACK-FILE "$source_device" 2>/dev/null || true)"
  if [[ "$(realpath -m "$backing")" != "$(realpath -m "$image")" ]]; then
    say "$mount_point is already mounted from $source_device, not from $image; refusing"
    exit 1
  fi
  report
  exit 0
fi

mkdir -p "$work_dir" "$mount_point"
if [[ ! -e "$image" ]]; then
  truncate -s "$size" "$image"
fi
# Formats only a blank image, so a rerun after a failed mount keeps what is there.
if [[ "$(blkid -o value -s TYPE "$image" 2>/dev/null || true)" != "xfs" ]]; then
  mkfs.xfs -q -f "$image"
fi

if "${sudo[@]}" mount -o loop,prjquota "$image" "$mount_point" 2>/dev/null; then
  :
else
  # Kernels built without XFS quota refuse the option ("quota support not available").
  say "the kernel refused -o prjquota; mounting without project quota enforcement"
  "${sudo[@]}" mount -o loop "$image" "$mount_point"
fi
report
