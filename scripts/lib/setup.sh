#!/usr/bin/env bash
# Shared set-up steps for run.sh and test.sh: each one checks first and installs or starts only
# what is missing, so running them again on a prepared machine takes seconds.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
APT_UPDATED=0

log() { printf '==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_node_deps() {
  cd "$REPO_ROOT"
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm dependencies"
    npm ci --no-audit --no-fund
  fi
}

docker_answers() { docker info >/dev/null 2>&1; }

ensure_docker() {
  if docker_answers; then return; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing Docker engine (Debian docker.io)"
    apt_install docker.io
  fi
  if docker_answers; then return; fi
  log "starting dockerd"
  if [ -d /run/systemd/system ]; then
    as_root systemctl start docker || true
  fi
  if ! docker_answers; then
    as_root sh -c 'nohup dockerd >/var/log/sandboxd-dockerd.log 2>&1 &'
  fi
  for _ in $(seq 1 60); do
    if docker_answers; then return; fi
    sleep 0.5
  done
  echo "dockerd did not answer within 30 s; see /var/log/sandboxd-dockerd.log" >&2
  exit 1
}

# The demo image is built offline from Debian's static busybox and bash (bash and nohup for ROCK's
# bash sessions and arun).
ensure_demo_image() {
  local missing=()
  [ -x /bin/busybox ] || missing+=(busybox-static)
  [ -x /bin/bash-static ] || missing+=(bash-static)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} (Debian) for the demo image"
    apt_install "${missing[@]}"
  fi
  "$REPO_ROOT/scripts/build-demo-image.sh"
}

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "installing PostgreSQL (Debian postgresql)"
    apt_install postgresql
  fi
  local version
  version="$(pg_lsclusters -h | awk 'NR==1 {print $1}')"
  if [ -z "$version" ]; then
    version="$(ls /usr/lib/postgresql | sort -n | tail -1)"
    as_root pg_createcluster "$version" main >/dev/null
  fi
  if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster "$version" main start
  fi
  for _ in $(seq 1 60); do
    if as_root su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1; then break; fi
    sleep 0.5
  done
  as_root su postgres -c "psql -qAtc \"select 1 from pg_roles where rolname='sandboxd'\"" | grep -q 1 ||
    as_root su postgres -c "psql -qc \"create role sandboxd login password 'sandboxd' createdb\""
  as_root su postgres -c "psql -qAtc \"select 1 from pg_database where datname='sandboxd_test'\"" | grep -q 1 ||
    as_root su postgres -c "createdb -O sandboxd sandboxd_test"
}

# The quota tests make a real XFS file system on a loop device.
ensure_xfsprogs() {
  if ! command -v mkfs.xfs >/dev/null 2>&1 || ! command -v xfs_quota >/dev/null 2>&1; then
    log "installing xfsprogs"
    apt_install xfsprogs
  fi
}

# The Swagger UI test drives Debian's chromium with puppeteer-core, which downloads no browser.
ensure_chromium() {
  if ! command -v chromium >/dev/null 2>&1; then
    log "installing chromium (Debian) for the browser test"
    apt_install chromium
  fi
}

# The gVisor tests start a second dockerd in a network namespace of its own (`unshare --net`, then
# `ip link set lo up` in it) with Debian's runsc registered as a runtime.
ensure_runsc() {
  local missing=()
  command -v runsc >/dev/null 2>&1 || missing+=(runsc)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} (Debian) for the gVisor tests"
    # runsc is built for amd64 and arm64 only: elsewhere the gVisor suite says why it skips.
    apt_install "${missing[@]}" || log "could not install ${missing[*]}; the gVisor tests will skip"
  fi
}

# The cluster tests build a three-node Docker Swarm on this machine: a dockerd per node (docker.io,
# from ensure_docker), each in a network namespace made with iproute2's `ip netns` and entered
# with util-linux's nsenter, joined by a bridge and veth pairs.
ensure_cluster_tools() {
  local missing=()
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} (Debian) for the cluster tests"
    apt_install "${missing[@]}"
  fi
}

ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    log "installing Redis (Debian redis-server)"
    apt_install redis-server
  fi
  if ! redis-cli -p 6379 ping >/dev/null 2>&1; then
    log "starting Redis"
    as_root redis-server --daemonize yes --port 6379 --bind 127.0.0.1 --save '' --appendonly no >/dev/null
  fi
  for _ in $(seq 1 40); do
    if redis-cli -p 6379 ping >/dev/null 2>&1; then return; fi
    sleep 0.25
  done
  echo "Redis did not answer on 127.0.0.1:6379" >&2
  exit 1
}
