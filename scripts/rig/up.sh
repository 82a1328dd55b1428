#!/usr/bin/env bash
# Starts the test rig on loopback (idempotent): two htpasswd registries (the push
# registry and a Docker Hub stand-in seeded with a busybox image), buildkitd with
# runc, a buildx builder on it, and writes .rig/env. See scripts/rig/README.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$RIG_RUN" "$RIG_LOGS" "$RIG_BIN" "$RIG_CACHE/stamps"
chmod 700 "$RIG_DIR"
rig_lock

bash "$RIG_ROOT/scripts/rig/tools.sh"
RUNC=$(command -v runc)

# --- Registries --------------------------------------------------------------
secret() { # secret FILE: a random password kept in FILE
  [[ -s $1 ]] || (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$1")
  cat "$1"
}
start_registry() { # start_registry NAME PORT USER PORT_VARIABLE
  local name=$1 port=$2 user=$3 port_var=$4 dir=$RIG_DIR/registry-$1 pass
  mkdir -p "$dir/data"
  pass=$(secret "$dir/password")
  if [[ ! -s $dir/htpasswd ]] || ! htpasswd -vb "$dir/htpasswd" "$user" "$pass" >/dev/null 2>&1; then
    htpasswd -Bbn "$user" "$pass" >"$dir/htpasswd"
  fi
  local changed=0
  write_if_changed "$dir/config.yml" <<YAML && changed=1
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
  secret: $(secret "$dir/http-secret")
auth:
  htpasswd:
    realm: convox-build-rig-$name
    path: $dir/htpasswd
YAML
  if pid_alive "registry-$name"; then
    if ((!changed)) && registry_answers "$port"; then
      return 0
    fi
    stop_proc "registry-$name" docker-registry # its config changed, or it hangs
  fi
  registry_answers "$port" && die "127.0.0.1:$port is taken by another process (set $port_var)"
  say "starting registry $name on 127.0.0.1:$port"
  setsid docker-registry serve "$dir/config.yml" >>"$RIG_LOGS/registry-$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RIG_RUN/registry-$name.pid"
  wait_until 20 registry_answers "$port" || die "registry $name did not answer: see $RIG_LOGS/registry-$name.log"
}
printf 'SAVED_REGISTRY_PORT=%s\nSAVED_HUB_PORT=%s\n' "$REGISTRY_PORT" "$HUB_PORT" >"$RIG_DIR/ports"
start_registry push "$REGISTRY_PORT" convox RIG_REGISTRY_PORT
start_registry hub "$HUB_PORT" hub RIG_HUB_PORT
REGISTRY_PASSWORD=$(<"$RIG_DIR/registry-push/password")
HUB_PASSWORD=$(<"$RIG_DIR/registry-hub/password")
HUB=127.0.0.1:$HUB_PORT

# Seed the Docker Hub stand-in (nothing can be pulled from Docker Hub here).
base_tags=(latest 1.36)
seeded=1
for tag in "${base_tags[@]}"; do
  skopeo inspect --raw --tls-verify=false --creds "hub:$HUB_PASSWORD" \
    "docker://$HUB/library/busybox:$tag" >/dev/null 2>&1 || seeded=0
done
if ((!seeded)); then
  say "seeding $HUB/library/busybox:{${base_tags[*]}} from busybox-static"
  bash "$RIG_ROOT/scripts/rig/make-base-image.sh" "$RIG_DIR/base-image" "${base_tags[@]}" >"$RIG_LOGS/base-image.log" 2>&1 ||
    die "making the base image failed: see $RIG_LOGS/base-image.log"
  for tag in "${base_tags[@]}"; do
    skopeo copy --quiet --dest-tls-verify=false --dest-creds "hub:$HUB_PASSWORD" \
      "oci:$RIG_DIR/base-image:$tag" "docker://$HUB/library/busybox:$tag" >>"$RIG_LOGS/base-image.log" 2>&1 ||
      die "pushing the base image failed: see $RIG_LOGS/base-image.log"
  done
fi

# busybox:multi, an index of linux/amd64 (the same image as :latest) and linux/arm64.
if ! skopeo inspect --raw --tls-verify=false --creds "hub:$HUB_PASSWORD" \
  "docker://$HUB/library/busybox:multi" 2>/dev/null | grep -q '"arm64"'; then
  say "seeding $HUB/library/busybox:multi (linux/amd64 and linux/arm64)"
  bash "$RIG_ROOT/scripts/rig/make-base-image.sh" --arch amd64=/bin/busybox --arch "arm64=$ARM64_BUSYBOX" \
    "$RIG_DIR/base-image-multi" multi >"$RIG_LOGS/base-image-multi.log" 2>&1 ||
    die "making the multi-platform base image failed: see $RIG_LOGS/base-image-multi.log"
  skopeo copy --all --quiet --dest-tls-verify=false --dest-creds "hub:$HUB_PASSWORD" \
    "oci:$RIG_DIR/base-image-multi:multi" "docker://$HUB/library/busybox:multi" >>"$RIG_LOGS/base-image-multi.log" 2>&1 ||
    die "pushing the multi-platform base image failed: see $RIG_LOGS/base-image-multi.log"
fi

# --- QEMU for linux/arm64 RUN steps ---------------------------------------------
# BuildKit runs a foreign binary natively when the kernel can (archutil): binfmt_misc with
# Debian's qemu-aarch64 entry, whose F flag opens the interpreter now, so that it also works
# inside build containers. Kernel-wide, kept until reboot; root only.
binfmt_arm64() {
  [[ -e $BINFMT_DIR/qemu-aarch64 ]] && return 0
  [[ -e $BINFMT_DIR/register ]] || mount -t binfmt_misc binfmt_misc "$BINFMT_DIR"
  cat /usr/lib/binfmt.d/qemu-aarch64.conf >"$BINFMT_DIR/register"
}
if ! binfmt_arm64 >>"$RIG_LOGS/binfmt.log" 2>&1; then
  say "warning: could not register QEMU for arm64 in binfmt_misc (see $RIG_LOGS/binfmt.log): arm64 RUN steps will fail"
fi

# --- buildkitd ---------------------------------------------------------------
mkdir -p "$RIG_DIR/buildkit"
bk_changed=0
write_if_changed "$RIG_DIR/buildkit/buildkitd.toml" <<TOML && bk_changed=1
# for $RIG_BIN/buildkitd $BUILDKIT_VERSION (a change here restarts it)
root = "$RIG_DIR/buildkit/root"

[grpc]
  address = ["unix://$BUILDKIT_SOCK"]

[worker.oci]
  enabled = true
  binary = "$RUNC"
  gc = true
  gckeepstorage = "10GB"

[worker.containerd]
  enabled = false

# FROM busybox (docker.io) comes from the Docker Hub stand-in.
[registry."docker.io"]
  mirrors = ["$HUB"]

[registry."127.0.0.1:$REGISTRY_PORT"]
  http = true
  insecure = true

[registry."$HUB"]
  http = true
  insecure = true
TOML
buildkit_answers() { "$RIG_BIN/buildctl" --addr "unix://$BUILDKIT_SOCK" debug workers; }
if ! { ((!bk_changed)) && pid_alive buildkitd && buildkit_answers >/dev/null 2>&1; }; then
  stop_proc buildkitd buildkitd
  say "starting buildkitd (unix://$BUILDKIT_SOCK)"
  rm -f "$BUILDKIT_SOCK"
  setsid "$RIG_BIN/buildkitd" --config "$RIG_DIR/buildkit/buildkitd.toml" \
    --oci-worker-net=host >>"$RIG_LOGS/buildkitd.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RIG_RUN/buildkitd.pid"
  wait_until 60 buildkit_answers || die "buildkitd did not answer: see $RIG_LOGS/buildkitd.log"
fi

# --- buildx builder (remote driver) -------------------------------------------
# Builders live in $BUILDX_CONFIG (else $DOCKER_CONFIG/buildx): make it in the rig's
# own dir (exported as BUILDX_CONFIG) and in the default one for interactive use, unless
# there it belongs to another live rig (another checkout).
make_builder() { # make_builder BUILDX_CONFIG_DIR|""
  local -a envs=()
  local endpoint
  [[ -n $1 ]] && envs=(BUILDX_CONFIG="$1")
  endpoint=$(env "${envs[@]}" docker buildx inspect "$BUILDER_NAME" 2>/dev/null |
    sed -n 's/^Endpoint: *//p' | head -1) || true
  [[ $endpoint == "unix://$BUILDKIT_SOCK" ]] && return 0
  [[ -z $1 && $endpoint == unix://* && -S ${endpoint#unix://} ]] && return 0
  env "${envs[@]}" docker buildx rm "$BUILDER_NAME" >/dev/null 2>&1 || true
  env "${envs[@]}" docker buildx create --name "$BUILDER_NAME" --driver remote "unix://$BUILDKIT_SOCK" \
    >>"$RIG_LOGS/buildx.log" 2>&1 || die "docker buildx create failed: see $RIG_LOGS/buildx.log"
}
make_builder "$RIG_DIR/buildx"
make_builder ""
BUILDX_CONFIG="$RIG_DIR/buildx" docker buildx inspect --bootstrap "$BUILDER_NAME" >>"$RIG_LOGS/buildx.log" 2>&1 ||
  die "the buildx builder does not answer: see $RIG_LOGS/buildx.log"

# --- optional buildkitd over mutual TLS (the tests that need them start them) ----
if [[ ${RIG_TLS:-} == 1 ]] || pid_alive buildkitd-tls-amd64 || pid_alive buildkitd-tls-arm64; then
  bash "$RIG_ROOT/scripts/rig/buildkit-tls.sh" ||
    say "warning: the buildkitd over mutual TLS did not start (see $RIG_LOGS/buildkitd-tls-*.log)"
fi

# --- optional docker engine ----------------------------------------------------
DOCKER_HOST_LINE=
if [[ ${RIG_DOCKER:-} == 1 ]] || pid_alive dockerd; then
  bash "$RIG_ROOT/scripts/rig/dockerd.sh"
  DOCKER_HOST_LINE="DOCKER_HOST=unix://$RIG_RUN/docker.sock"
fi

# --- .rig/env ------------------------------------------------------------------
write_if_changed "$RIG_DIR/env" <<ENV || true
REGISTRY=127.0.0.1:$REGISTRY_PORT
REGISTRY_USERNAME=convox
REGISTRY_PASSWORD=$REGISTRY_PASSWORD
HUB_REGISTRY=$HUB
HUB_USERNAME=hub
HUB_PASSWORD=$HUB_PASSWORD
BUILDKIT_HOST=unix://$BUILDKIT_SOCK
BUILDX_BUILDER=$BUILDER_NAME
BUILDX_CONFIG=$RIG_DIR/buildx
RIG_BIN=$RIG_BIN
${DOCKER_HOST_LINE:-# no DOCKER_HOST: start with RIG_DOCKER=1 for a docker engine}
ENV
chmod 600 "$RIG_DIR/env"
say "ready: registry 127.0.0.1:$REGISTRY_PORT, hub $HUB, buildkit unix://$BUILDKIT_SOCK (env: .rig/env)"
