#!/usr/bin/env bash
# Runs the CLI on the example app (examples/) against the local rig, starting the rig
# first (idempotent). Extra arguments go to the CLI.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/rig/up.sh >&2
set -a
# shellcheck source=/dev/null
source .rig/env
set +a

# Node 24 (the runner's) when npm installed it, else the node on PATH.
node=node
[[ -x node_modules/.bin/node ]] && node=node_modules/.bin/node

# Secrets go through the environment, not argv (visible in ps).
export CONVOX_BUILD_REGISTRY_PASSWORD=$REGISTRY_PASSWORD
export CONVOX_BUILD_DOCKER_HUB_PASSWORD=$HUB_PASSWORD
exec "$node" bin/convox-build.js build \
  --working-directory examples \
  --app example \
  --registry "$REGISTRY/example" \
  --registry-username "$REGISTRY_USERNAME" \
  --docker-hub-registry "$HUB_REGISTRY" \
  --docker-hub-username "$HUB_USERNAME" \
  --buildkit-host "$BUILDKIT_HOST" \
  --builder "$BUILDX_BUILDER" \
  --build-args BUILD_APP --build-args BUILD_GIT_SHA --build-args BUILD_ID \
  --build-args BUILD_RACK --build-args VERSION=example \
  "$@"
