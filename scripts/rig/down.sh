#!/usr/bin/env bash
# Stops the processes the rig started (by their pid files in .rig/run); keeps data,
# passwords and caches so the next `npm run rig:up` is quick.
#   down.sh             everything
#   down.sh dockerd     only the named parts (dockerd, buildkitd, buildkitd-tls-amd64,
#                       buildkitd-tls-arm64, registry-push, registry-hub)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -d $RIG_RUN ]] || exit 0
rig_lock
declare -A expect=([dockerd]=dockerd [buildkitd]=buildkitd [buildkitd-tls-amd64]=buildkitd [buildkitd-tls-arm64]=buildkitd [registry-push]=docker-registry [registry-hub]=docker-registry)
parts=("$@")
((${#parts[@]})) || parts=(dockerd buildkitd buildkitd-tls-amd64 buildkitd-tls-arm64 registry-push registry-hub)
for part in "${parts[@]}"; do
  [[ -n ${expect[$part]:-} ]] || die "unknown part: $part"
  stop_proc "$part" "${expect[$part]}"
done
[[ -e $RIG_RUN/buildkitd.pid ]] || rm -f "$RIG_RUN/buildkitd.sock"
if [[ ! -e $RIG_RUN/dockerd.pid ]]; then
  rm -f "$RIG_RUN/docker.sock"
  # dockerd's bridge is the rig's own (dockerd.sh): gone with it.
  ip link delete "cvxrig$REGISTRY_PORT" 2>/dev/null || true
fi
say "stopped ${parts[*]}"
