#!/usr/bin/env bash
# Optional part of the rig (RIG_DOCKER=1 npm run rig:up): Debian's dockerd on a unix socket
# under .rig, with its own data root, no bridge and no iptables changes. Pulls of docker.io
# go to the Docker Hub stand-in.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sock=$RIG_RUN/docker.sock
docker_answers() { docker --host "unix://$sock" version --format '{{.Server.Version}}'; }
if pid_alive dockerd && docker_answers >/dev/null 2>&1; then
  exit 0
fi
stop_proc dockerd dockerd
command -v dockerd >/dev/null || die 'dockerd is missing (apt-get install docker.io)'
mkdir -p "$RIG_DIR/docker/data" "$RIG_RUN/docker-exec"
say "starting dockerd (unix://$sock)"
setsid dockerd --host "unix://$sock" \
  --data-root "$RIG_DIR/docker/data" --exec-root "$RIG_RUN/docker-exec" \
  --pidfile "$RIG_RUN/docker-exec/dockerd.pid" \
  --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
  --registry-mirror "http://127.0.0.1:$HUB_PORT" \
  --insecure-registry "127.0.0.1:$REGISTRY_PORT" --insecure-registry "127.0.0.1:$HUB_PORT" \
  >>"$RIG_LOGS/dockerd.log" 2>&1 </dev/null 9>&- &
echo $! >"$RIG_RUN/dockerd.pid"
wait_until 60 docker_answers || die "dockerd did not answer: see $RIG_LOGS/dockerd.log"
