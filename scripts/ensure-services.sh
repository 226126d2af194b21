#!/usr/bin/env bash
# Make sure the machine has what the integration tests need, and that it runs:
#   - Debian packages: docker.io docker-compose openssh-server busybox-static
#     redis-server iptables, and debootstrap wireguard-go wireguard-tools iproute2 iputils-ping
#     (installed only when missing)
#   - dockerd (reachable through /var/run/docker.sock)
#   - Redis on 127.0.0.1:6379
# Idempotent and quick when everything is already there. Run as root.
# Exits non-zero with a clear message when something cannot be provided.
set -euo pipefail

log() { printf '[ensure-services] %s\n' "$*"; }
die() { printf '[ensure-services] ERROR: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  die "must run as root (it installs packages and starts dockerd)"
fi

export DEBIAN_FRONTEND=noninteractive
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"

# ---------------------------------------------------------------- packages
# Each entry: "<debian package>:<command that proves it is there>".
# A docker CLI may exist in /usr/local/bin without any engine, so docker.io is
# detected through dockerd, not through `docker`.
REQUIRED=(
  "docker.io:dockerd"
  "docker-compose:docker-compose"
  "openssh-server:sshd"
  "busybox-static:"
  "redis-server:redis-server"
  "redis-tools:redis-cli"
  "iptables:iptables"
)
# Installed without recommends: wireguard-tools would otherwise pull in a kernel image.
REQUIRED_LEAN=(
  "debootstrap:debootstrap"
  "wireguard-go:wireguard-go"
  "wireguard-tools:wg"
  "iproute2:ip"
  # The WireGuard rotation probes the tunnel with ping every 100 ms (test/support/netns-hosts.ts).
  "iputils-ping:ping"
)

missing=()
for entry in "${REQUIRED[@]}"; do
  pkg="${entry%%:*}"
  cmd="${entry#*:}"
  if [ -n "$cmd" ]; then
    command -v "$cmd" >/dev/null 2>&1 && continue
  else
    dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' && continue
  fi
  missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
  log "installing missing packages: ${missing[*]}"
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"
else
  log "packages present: docker.io docker-compose openssh-server busybox-static redis-server iptables"
fi

lean_missing=()
for entry in "${REQUIRED_LEAN[@]}"; do
  command -v "${entry#*:}" >/dev/null 2>&1 || lean_missing+=("${entry%%:*}")
done
if [ "${#lean_missing[@]}" -gt 0 ]; then
  log "installing missing packages: ${lean_missing[*]}"
  [ "${#missing[@]}" -gt 0 ] || apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${lean_missing[@]}" \
    || die "apt-get install ${lean_missing[*]} failed"
fi

[ -x /bin/busybox ] || die "/bin/busybox missing after installing busybox-static"

# ---------------------------------------------------------------- dockerd
docker_ok() { timeout 10 docker info >/dev/null 2>&1; }

if ! command -v docker >/dev/null 2>&1; then
  die "no docker CLI found even after installing docker.io"
fi

if docker_ok; then
  log "dockerd already running"
else
  if pgrep -x dockerd >/dev/null 2>&1; then
    log "dockerd process exists but does not answer yet; waiting for it"
  else
    # A dockerd killed hard (e.g. when a previous CI run ended) leaves its
    # socket and pid files behind; dockerd copes with a stale socket, but not
    # with a pid file naming a live unrelated pid, so drop stale ones.
    for pidfile in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
      if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; then
        rm -f "$pidfile"
      fi
    done
    if [ -S /var/run/docker.sock ]; then
      log "removing stale /var/run/docker.sock"
      rm -f /var/run/docker.sock
    fi
    # cgroup v1 hierarchies are needed on some hosts; mount them if the
    # helper exists and nothing is mounted yet.
    if [ ! -e /sys/fs/cgroup/cgroup.controllers ] && ! mountpoint -q /sys/fs/cgroup/cpu 2>/dev/null \
      && command -v cgroupfs-mount >/dev/null 2>&1; then
      cgroupfs-mount >/dev/null 2>&1 || true
    fi
    log "starting dockerd (log: /var/log/cdb-dockerd.log)"
    nohup dockerd >>/var/log/cdb-dockerd.log 2>&1 </dev/null &
    disown || true
  fi
  for _ in $(seq 1 30); do
    if docker_ok; then break; fi
    sleep 1
  done
  if ! docker_ok; then
    tail -n 30 /var/log/cdb-dockerd.log >&2 2>/dev/null || true
    die "dockerd did not become ready within 30 s (see /var/log/cdb-dockerd.log)"
  fi
  log "dockerd is ready"
fi

command -v docker-compose >/dev/null 2>&1 || die "docker-compose not found"

# ---------------------------------------------------------------- redis
redis_ok() { [ "$(timeout 5 redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

if redis_ok; then
  log "redis already answering on 127.0.0.1:6379"
else
  log "starting redis-server on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log \
    || die "redis-server failed to start (see /var/log/redis/ci.log)"
  for _ in $(seq 1 20); do
    if redis_ok; then break; fi
    sleep 0.5
  done
  if ! redis_ok; then
    tail -n 20 /var/log/redis/ci.log >&2 2>/dev/null || true
    die "redis did not answer PING on 127.0.0.1:6379 within 10 s"
  fi
  log "redis is ready"
fi

# ---------------------------------------------------------------- sshd prerequisites
mkdir -p /run/sshd && chmod 0755 /run/sshd

log "all services ready"
