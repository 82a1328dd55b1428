#!/usr/bin/env bash
# The orb's build command. Each parameter arrives as PARAM_<NAME>; the settings among them
# become CONVOX_BUILD_<NAME> when set, so that a context's or the project's variables hold
# otherwise. The registry password is read from the variable its parameter names.
set -euo pipefail
for name in APP RACK WORKING_DIRECTORY BUILD_ARGS REGISTRY REGISTRY_USERNAME ENGINE EXPORT TRUSTED_REFS; do
  param=PARAM_$name
  if [[ -n ${!param:-} ]]; then export "CONVOX_BUILD_$name=${!param}"; fi
done
if [[ -n ${PARAM_REGISTRY_PASSWORD:-} && -n ${!PARAM_REGISTRY_PASSWORD:-} ]]; then
  export CONVOX_BUILD_REGISTRY_PASSWORD=${!PARAM_REGISTRY_PASSWORD}
fi
# PARAM_ARGS is a list of flags: split on spaces.
# shellcheck disable=SC2086
npx --yes --package "$PARAM_PACKAGE" -- convox-build "$PARAM_COMMAND" \
  --output-file "$PARAM_OUTPUT_FILE" --summary-file convox-build.md $PARAM_ARGS
