#!/usr/bin/env bash
# The orb's build command. Settings arrive as CONVOX_BUILD_<NAME> variables; the registry
# password is read from the variable its parameter names, so no secret is a parameter's value.
set -euo pipefail
if [[ -n ${PARAM_REGISTRY_PASSWORD:-} && -n ${!PARAM_REGISTRY_PASSWORD:-} ]]; then
  export CONVOX_BUILD_REGISTRY_PASSWORD=${!PARAM_REGISTRY_PASSWORD}
fi
# PARAM_ARGS is a list of flags: split on spaces.
# shellcheck disable=SC2086
npx --yes --package "$PARAM_PACKAGE" -- convox-build "$PARAM_COMMAND" \
  --output-file "$PARAM_OUTPUT_FILE" --summary-file convox-build.md $PARAM_ARGS
