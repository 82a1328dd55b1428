#!/usr/bin/env bats
# The Buildkite plugin's command hook, run as the agent runs it: its properties in
# BUILDKITE_PLUGIN_CONVOX_BUILD_* variables, the packed npm package (CONVOX_BUILD_TARBALL, else
# packed here) and a stub buildkite-agent that records its calls.

bats_require_minimum_version 1.5.0

setup_file() {
  root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
  export root
  if [[ -z ${CONVOX_BUILD_TARBALL:-} ]]; then
    CONVOX_BUILD_TARBALL=$(node "$root/scripts/pack.mjs" "$BATS_FILE_TMPDIR" | tail -n 1)
  fi
  export CONVOX_BUILD_TARBALL
  # npx installs the package offline from the tarball, into a cache of this file's own.
  export npm_config_cache=$BATS_FILE_TMPDIR/npm-cache npm_config_offline=true
  export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
}

setup() {
  app=$BATS_TEST_TMPDIR/app
  cp -r "$root/examples" "$app"
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  cp "$root/__tests__/fixtures/buildkite-agent" "$BATS_TEST_TMPDIR/bin/"
  export PATH=$BATS_TEST_TMPDIR/bin:$PATH
  export BUILDKITE_AGENT_STUB_LOG=$BATS_TEST_TMPDIR/agent.log
  : >"$BUILDKITE_AGENT_STUB_LOG"
  # What the agent sets for a pull request build; the checkout is not a git repository.
  export BUILDKITE=true CI=true GIT_CEILING_DIRECTORIES=$BATS_TEST_TMPDIR
  export BUILDKITE_COMMIT=0123456789abcdef0123456789abcdef01234567
  export BUILDKITE_MESSAGE=$'Fix login\n\nbody'
  export BUILDKITE_BRANCH=fix-login BUILDKITE_PULL_REQUEST=31
  export BUILDKITE_PULL_REQUEST_BASE_BRANCH=main
  export BUILDKITE_PLUGIN_CONVOX_BUILD_PACKAGE=$CONVOX_BUILD_TARBALL
  cd "$app"
}

hook() { bash "$root/hooks/command"; }

@test "plans with the plugin's properties: a string, a list, a boolean" {
  export BUILDKITE_PLUGIN_CONVOX_BUILD_COMMAND=plan
  export BUILDKITE_PLUGIN_CONVOX_BUILD_APP=myapp
  export BUILDKITE_PLUGIN_CONVOX_BUILD_BUILD_ARGS_0=BUILD_GIT_SHA
  export BUILDKITE_PLUGIN_CONVOX_BUILD_BUILD_ARGS_1=VERSION=1.2.3
  export BUILDKITE_PLUGIN_CONVOX_BUILD_DEVELOPMENT=true
  export BUILDKITE_PLUGIN_CONVOX_BUILD_OUTPUT_FILE=out.env
  run hook
  [ "$status" -eq 0 ]
  plan=$(sed -n 's/^PLAN=//p' out.env)
  node -e '
    const p = JSON.parse(process.argv[1])
    const ok = p.app === "myapp" && p.development === true &&
      p.gitSha === "0123456789abcdef0123456789abcdef01234567" &&
      p.description === "build 0123456789 Fix login" &&
      p.builds.some(b => b.args.includes("BUILD_GIT_SHA") && b.args.includes("VERSION"))
    process.exit(ok ? 0 : 1)
  ' "$plan"
}

@test "annotates the build and sets the build id as meta-data through buildkite-agent" {
  export BUILDKITE_PLUGIN_CONVOX_BUILD_COMMAND=plan
  export BUILDKITE_PLUGIN_CONVOX_BUILD_APP=myapp
  export BUILDKITE_PLUGIN_CONVOX_BUILD_OUTPUT_FILE=out.env
  run hook
  [ "$status" -eq 0 ]
  id=$(sed -n 's/^BUILD_ID=//p' out.env)
  [[ $id =~ ^B[A-Z]{10}$ ]]
  grep -qx "meta-data set convox-build-id $id" "$BUILDKITE_AGENT_STUB_LOG"
  grep -qx 'annotate --style info --context convox-build-myapp' "$BUILDKITE_AGENT_STUB_LOG"
  grep -q "^stdin:## convox-build: myapp (dry run)" "$BUILDKITE_AGENT_STUB_LOG"
  # A dry run has no release: no release id meta-data.
  run ! grep -q convox-release-id "$BUILDKITE_AGENT_STUB_LOG"
}

@test "summary: false leaves the annotation out" {
  export BUILDKITE_PLUGIN_CONVOX_BUILD_COMMAND=plan
  export BUILDKITE_PLUGIN_CONVOX_BUILD_APP=myapp
  export BUILDKITE_PLUGIN_CONVOX_BUILD_SUMMARY=false
  run hook
  [ "$status" -eq 0 ]
  run ! grep -q annotate "$BUILDKITE_AGENT_STUB_LOG"
  grep -q '^meta-data set convox-build-id B' "$BUILDKITE_AGENT_STUB_LOG"
}

@test "a bad property fails the step with one line naming it, and nothing reaches the agent" {
  export BUILDKITE_PLUGIN_CONVOX_BUILD_COMMAND=plan
  export BUILDKITE_PLUGIN_CONVOX_BUILD_APP='Not An App'
  run hook
  [ "$status" -eq 1 ]
  [[ $output == *'--app: "Not An App" is not a Convox app name'* ]]
  [[ $output != *'    at '* ]]
  [ ! -s "$BUILDKITE_AGENT_STUB_LOG" ]
}

@test "secrets from the agent's environment reach neither the log nor the agent" {
  export BUILDKITE_PLUGIN_CONVOX_BUILD_COMMAND=plan
  export BUILDKITE_PLUGIN_CONVOX_BUILD_APP=myapp
  export BUILDKITE_PLUGIN_CONVOX_BUILD_REGISTRY=registry.example.com/myapp
  export BUILDKITE_PLUGIN_CONVOX_BUILD_REGISTRY_USERNAME=ci
  export BUILDKITE_PLUGIN_CONVOX_BUILD_DESCRIPTION='leaks s3cret-registry-pw?'
  export CONVOX_BUILD_REGISTRY_PASSWORD=s3cret-registry-pw
  export BUILDKITE_PLUGIN_CONVOX_BUILD_OUTPUT_FILE=out.env
  run hook
  [ "$status" -eq 0 ]
  [[ $output != *s3cret-registry-pw* ]]
  run ! grep -q s3cret-registry-pw "$BUILDKITE_AGENT_STUB_LOG" out.env
  # the annotation escapes the description for Markdown: shown as `leaks ***?`
  grep -qF 'leaks \*\*\*\?' "$BUILDKITE_AGENT_STUB_LOG"
}
