# Shared settings and helpers of the rig scripts (sourced, not run).

RIG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG_DIR=$RIG_ROOT/.rig
RIG_RUN=$RIG_DIR/run
RIG_LOGS=$RIG_DIR/logs
RIG_CACHE=${CONVOX_BUILD_RIG_CACHE:-$HOME/.cache/convox-build-rig}
RIG_BIN=$RIG_CACHE/bin

# Pinned tools (a bump rebuilds them: the cache is keyed by these).
BUILDKIT_VERSION=v0.34.2
BUILDX_VERSION=v0.38.2
ACT_VERSION=v0.2.89
# cosign: the independent verifier of our signatures and provenance in the rig's tests.
COSIGN_VERSION=v2.6.5
# Go toolchain fetched when the local go is older than 1.21 (newer ones fetch it themselves).
GO_BOOTSTRAP=go1.26.8

# Loopback ports: RIG_REGISTRY_PORT / RIG_HUB_PORT, else those of the last run (.rig/ports).
SAVED_REGISTRY_PORT= SAVED_HUB_PORT=
# shellcheck source=/dev/null
[[ -f $RIG_DIR/ports ]] && source "$RIG_DIR/ports"
REGISTRY_PORT=${RIG_REGISTRY_PORT:-${SAVED_REGISTRY_PORT:-5050}}
HUB_PORT=${RIG_HUB_PORT:-${SAVED_HUB_PORT:-5051}}

# busybox-static for linux/arm64 (the stand-in's second platform), unpacked from Debian's .deb.
ARM64_BUSYBOX=$RIG_CACHE/busybox-arm64/bin/busybox
# QEMU's aarch64 handler in the kernel's binfmt_misc (arm64 RUN steps on an amd64 machine).
BINFMT_DIR=/proc/sys/fs/binfmt_misc

BUILDKIT_SOCK=$RIG_RUN/buildkitd.sock
BUILDER_NAME=convox-build-rig

say() { printf 'rig: %s\n' "$*"; }
die() {
  printf 'rig: error: %s\n' "$*" >&2
  exit 1
}

# pid_alive NAME: the process recorded in run/NAME.pid is still running.
pid_alive() {
  local pidfile=$RIG_RUN/$1.pid pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ -d /proc/$pid ]] && [[ $(cat "/proc/$pid/stat" 2>/dev/null | awk '{print $3}') != Z ]]
}

# wait_until SECONDS CMD...: retries CMD every 0.2s until it succeeds or time runs out.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# registry_answers PORT: the registry at PORT answers /v2/ (401 without credentials).
registry_answers() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/v2/") || return 1
  [[ $code == 401 || $code == 200 ]]
}

# stop_proc NAME EXPECTED: ends the process of run/NAME.pid (TERM, then KILL after 20s),
# only if its command line still mentions EXPECTED (a recycled pid is left alone).
stop_proc() {
  local name=$1 expect=$2 pidfile=$RIG_RUN/$1.pid pid
  [[ -s $pidfile ]] || return 0
  pid=$(<"$pidfile")
  if pid_alive "$name" && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$expect"; then
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while [[ -d /proc/$pid ]] && ((SECONDS < deadline)); do sleep 0.2; done
    if [[ -d /proc/$pid ]]; then
      say "$name did not stop in 20s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

# write_if_changed FILE: stdin to FILE; succeeds (0) only when the content changed.
write_if_changed() {
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then
    rm -f "$tmp"
    return 1
  fi
  mv -f "$tmp" "$1"
}

# rig_lock: one rig script at a time per checkout (held until the script exits); a rig script
# run by one holding it (up.sh running buildkit-tls.sh) shares it.
rig_lock() {
  [[ -n ${RIG_LOCK_HELD:-} ]] && return 0
  exec 9>"$RIG_DIR/.lock"
  flock -w 600 9 || die "another rig script holds $RIG_DIR/.lock"
  export RIG_LOCK_HELD=1
}
