#!/usr/bin/env bash
# Optional part of the rig (RIG_DOCKER=1 npm run rig:up): Debian's dockerd on a unix socket
# under .rig, with its own data root and no iptables changes. Pulls of docker.io go to the
# Docker Hub stand-in; both rig registries are plain HTTP (insecure-registries).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sock=$RIG_RUN/docker.sock
# dockerd's own BuildKit (buildx's `docker` driver) runs RUN steps on the `bridge` network and
# fails with "network bridge not found" without one. The bridge is the rig's own (not docker0,
# which another dockerd in this network namespace would take or delete); no NAT, no forwarding.
bridge=cvxrig$REGISTRY_PORT
bridge_addr=${RIG_DOCKER_BRIDGE_ADDR:-172.30.213.1/24}
bridge_ready() { ip -br addr show dev "$bridge" 2>/dev/null | grep -q " ${bridge_addr%/*}/"; }
args=(
  --host "unix://$sock"
  --data-root "$RIG_DIR/docker/data" --exec-root "$RIG_RUN/docker-exec"
  --pidfile "$RIG_RUN/docker-exec/dockerd.pid"
  --bridge "$bridge"
  --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false
  --registry-mirror "http://127.0.0.1:$HUB_PORT"
  --insecure-registry "127.0.0.1:$REGISTRY_PORT" --insecure-registry "127.0.0.1:$HUB_PORT"
)
docker_answers() { docker --host "unix://$sock" version --format '{{.Server.Version}}'; }
mkdir -p "$RIG_DIR/docker/data" "$RIG_RUN/docker-exec"
# A running dockerd is kept only when it was started with these arguments.
changed=0
printf '%s\n' "${args[@]}" | write_if_changed "$RIG_DIR/docker/args" && changed=1
if ! bridge_ready; then
  changed=1
  ip link show "$bridge" >/dev/null 2>&1 || ip link add "$bridge" type bridge
  ip addr flush dev "$bridge"
  ip addr add "$bridge_addr" dev "$bridge"
  ip link set "$bridge" up
fi
if ((!changed)) && pid_alive dockerd && docker_answers >/dev/null 2>&1; then
  exit 0
fi
stop_proc dockerd dockerd
command -v dockerd >/dev/null || die 'dockerd is missing (apt-get install docker.io)'
say "starting dockerd (unix://$sock)"
setsid dockerd "${args[@]}" >>"$RIG_LOGS/dockerd.log" 2>&1 </dev/null 9>&- &
echo $! >"$RIG_RUN/dockerd.pid"
wait_until 60 docker_answers || die "dockerd did not answer: see $RIG_LOGS/dockerd.log"
