#!/usr/bin/env bash
# Two more buildkitd on loopback TCP that require mutual TLS (idempotent, quick when running):
# buildkitd-tls-amd64 and buildkitd-tls-arm64 (its worker advertises linux/arm64 only; its RUN
# steps go through QEMU's binfmt entry that up.sh registers). Needs `up.sh` first (the registries).
# Writes .rig/tls: a CA and the daemons' certificate (127.0.0.1, buildkitd.rig), a client
# certificate, and for the failure tests a client of another CA and an expired client certificate;
# .rig/tls/env names them. Stopped by down.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TLS_DIR=$RIG_DIR/tls
TLS_AMD64_PORT=${RIG_TLS_AMD64_PORT:-5060}
TLS_ARM64_PORT=${RIG_TLS_ARM64_PORT:-5061}
mkdir -p "$TLS_DIR" "$RIG_RUN" "$RIG_LOGS"
chmod 700 "$TLS_DIR"
rig_lock
[[ -x $RIG_BIN/buildkitd ]] || die "no $RIG_BIN/buildkitd: run npm run rig:up first"

# --- certificates ---------------------------------------------------------------
ca() { # ca NAME: a self-signed CA NAME.pem / NAME.key
  [[ -s $TLS_DIR/$1.pem ]] && return 0
  openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=convox-build rig $1" \
    -keyout "$TLS_DIR/$1.key" -out "$TLS_DIR/$1.pem" 2>/dev/null
}
leaf() { # leaf NAME CA EXT [openssl ca dates...]: NAME.pem / NAME.key signed by CA
  local name=$1 ca=$2 ext=$3
  shift 3
  [[ -s $TLS_DIR/$name.pem ]] && return 0
  local work=$TLS_DIR/.ca-$name
  rm -rf "$work" && mkdir -p "$work"
  : >"$work/index.txt"
  cat >"$work/ca.cnf" <<CNF
[ca]
default_ca = rig
[rig]
database = $work/index.txt
new_certs_dir = $work
serial = $work/serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
[server]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:buildkitd.rig,DNS:localhost
[client]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
CNF
  openssl rand -hex 8 >"$work/serial"
  openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout "$TLS_DIR/$name.key" \
    -out "$work/req.csr" 2>/dev/null
  openssl ca -batch -config "$work/ca.cnf" -extensions "$ext" -cert "$TLS_DIR/$ca.pem" \
    -keyfile "$TLS_DIR/$ca.key" -in "$work/req.csr" -out "$TLS_DIR/$name.pem" -notext "$@" \
    >>"$RIG_LOGS/buildkit-tls-certs.log" 2>&1 || die "openssl ca failed: see $RIG_LOGS/buildkit-tls-certs.log"
  rm -rf "$work"
}
ca ca
ca other-ca
leaf server ca server -days 3650
leaf client ca client -days 3650
leaf other-client other-ca client -days 3650
# OpenSSL 3.0's x509 has no -not_after: `openssl ca` takes the dates.
leaf expired-client ca client -startdate 20200101000000Z -enddate 20200102000000Z
chmod 600 "$TLS_DIR"/*.key

# --- daemons ----------------------------------------------------------------------
tls_answers() { # tls_answers PORT
  "$RIG_BIN/buildctl" --addr "tcp://127.0.0.1:$1" --tlscacert "$TLS_DIR/ca.pem" \
    --tlscert "$TLS_DIR/client.pem" --tlskey "$TLS_DIR/client.key" debug workers
}
start_tls_buildkitd() { # start_tls_buildkitd ARCH PORT
  local arch=$1 port=$2 name=buildkitd-tls-$1 dir=$RIG_DIR/buildkit-tls-$1 changed=0
  mkdir -p "$dir"
  write_if_changed "$dir/buildkitd.toml" <<TOML && changed=1
# for $RIG_BIN/buildkitd $BUILDKIT_VERSION (a change here restarts it)
root = "$dir/root"

[grpc]
  address = ["tcp://127.0.0.1:$port"]
  [grpc.tls]
    cert = "$TLS_DIR/server.pem"
    key = "$TLS_DIR/server.key"
    ca = "$TLS_DIR/ca.pem"

[otel]
  socketPath = "$dir/otel-grpc.sock"

[worker.oci]
  enabled = true
  binary = "$(command -v runc)"
  platforms = ["linux/$arch"]
  gc = true
  gckeepstorage = "5GB"

[worker.containerd]
  enabled = false

[registry."docker.io"]
  mirrors = ["127.0.0.1:$HUB_PORT"]

[registry."127.0.0.1:$REGISTRY_PORT"]
  http = true
  insecure = true

[registry."127.0.0.1:$HUB_PORT"]
  http = true
  insecure = true
TOML
  if ((!changed)) && pid_alive "$name" && tls_answers "$port" >/dev/null 2>&1; then
    return 0
  fi
  stop_proc "$name" buildkitd
  say "starting $name (tcp://127.0.0.1:$port, mutual TLS)"
  setsid "$RIG_BIN/buildkitd" --config "$dir/buildkitd.toml" --oci-worker-net=host \
    >>"$RIG_LOGS/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RIG_RUN/$name.pid"
  wait_until 60 tls_answers "$port" || die "$name did not answer: see $RIG_LOGS/$name.log"
}
start_tls_buildkitd amd64 "$TLS_AMD64_PORT"
start_tls_buildkitd arm64 "$TLS_ARM64_PORT"

write_if_changed "$TLS_DIR/env" <<ENV || true
BUILDKIT_TLS_AMD64=tcp://127.0.0.1:$TLS_AMD64_PORT
BUILDKIT_TLS_ARM64=tcp://127.0.0.1:$TLS_ARM64_PORT
BUILDKIT_TLS_DIR=$TLS_DIR
ENV
say "ready: mutual TLS buildkitd tcp://127.0.0.1:$TLS_AMD64_PORT (amd64), tcp://127.0.0.1:$TLS_ARM64_PORT (arm64)"
