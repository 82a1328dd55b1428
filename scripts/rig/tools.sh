#!/usr/bin/env bash
# Installs the rig's tools when missing: Debian packages, and the pinned Go tools into
# $CONVOX_BUILD_RIG_CACHE/bin (default ~/.cache/convox-build-rig), keyed by version.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdir -p "$RIG_LOGS" "$RIG_BIN" "$RIG_CACHE/stamps"

# --- Debian packages ---------------------------------------------------------
need_pkgs=()
want() { command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2"); }
want runc runc
want docker-registry docker-registry
want skopeo skopeo
want htpasswd apache2-utils
want curl curl
want tar tar
[[ -x /bin/busybox ]] && /bin/busybox --list-full >/dev/null 2>&1 || need_pkgs+=(busybox-static)
want docker docker.io
# The Buildkite plugin's hook tests, and gitlab-ci-local's shell executor (it rsyncs the job).
want bats bats
want rsync rsync
# QEMU user-mode emulators with the binfmt_misc entries (registered by up.sh): arm64 RUN steps.
want qemu-aarch64-static qemu-user-static
# Go: the usual install places count even when not on PATH.
for d in /usr/local/go/bin "$HOME/go/bin" "$HOME/sdk/go/bin"; do
  [[ -x $d/go && :$PATH: != *:$d:* ]] && PATH=$PATH:$d
done
want go golang-go
[[ ${RIG_DOCKER:-} == 1 ]] && want dockerd docker.io
if ((${#need_pkgs[@]})); then
  say "apt-get install ${need_pkgs[*]} (log: .rig/logs/apt.log)"
  {
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_pkgs[@]}"
  } >"$RIG_LOGS/apt.log" 2>&1 || die "apt-get failed: see $RIG_LOGS/apt.log"
fi

# --- busybox-static for arm64 ---------------------------------------------------
# The same Debian version as the host's (its applet list is read from the host's busybox): apt
# downloads the arm64 .deb once (arm64 added as a foreign architecture), unpacked into the cache.
if [[ ! -x $ARM64_BUSYBOX ]]; then
  say "downloading busybox-static for arm64 (log: .rig/logs/apt-arm64.log)"
  {
    dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
    apt-get update
    deb_dir=$(mktemp -d)
    version=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || true)
    (cd "$deb_dir" && { apt-get download "busybox-static:arm64=$version" || apt-get download busybox-static:arm64; })
    rm -rf "$RIG_CACHE/busybox-arm64"
    dpkg-deb -x "$deb_dir"/busybox-static_*_arm64.deb "$RIG_CACHE/busybox-arm64"
    rm -rf "$deb_dir"
    [[ -x $ARM64_BUSYBOX ]]
  } >"$RIG_LOGS/apt-arm64.log" 2>&1 || die "downloading busybox-static:arm64 failed: see $RIG_LOGS/apt-arm64.log"
fi

# --- Go toolchain -------------------------------------------------------------
# Go >= 1.21 fetches the toolchain a module asks for (GOTOOLCHAIN=auto) from the Go proxy.
# An older go (Debian 12 has 1.19) downloads that toolchain module once, into the cache.
export GOTOOLCHAIN=auto
go_minor() { go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p'; }
if (($(go_minor || echo 0) < 21)); then
  tc=$RIG_CACHE/$GO_BOOTSTRAP
  if [[ ! -x $tc/bin/go ]]; then
    say "fetching the Go toolchain $GO_BOOTSTRAP through the Go proxy"
    tc_dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "golang.org/toolchain@v0.0.1-$GO_BOOTSTRAP.linux-amd64" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') || true
    [[ -n $tc_dir && -d $tc_dir ]] || die "could not download the Go toolchain $GO_BOOTSTRAP"
    rm -rf "$tc" && cp -r "$tc_dir" "$tc" && chmod -R u+w "$tc"
    chmod +x "$tc"/bin/* "$tc"/pkg/tool/*/*
  fi
  PATH=$tc/bin:$PATH
fi

# --- Go tools (cached by pinned version) -------------------------------------
go_install() { # go_install STAMP LOG LDFLAGS DIR|- PKG...
  local stamp=$RIG_CACHE/stamps/$1 logname=$2 ldflags=$3 dir=$4
  local log=$RIG_LOGS/$logname
  shift 4
  [[ -f $stamp ]] && return 0
  say "go install $* (log: .rig/logs/$logname; minutes on a fresh machine)"
  (
    [[ $dir == - ]] || cd "$dir"
    GOBIN=$RIG_BIN GOFLAGS="-mod=mod -trimpath" go install -ldflags "$ldflags" "$@"
  ) >"$log" 2>&1 || die "go install failed: see $log"
  touch "$stamp"
}
if [[ ! -f $RIG_CACHE/stamps/buildkit@$BUILDKIT_VERSION ]]; then
  # `go install module/cmd@version` refuses buildkit's go.mod (exclude directives):
  # build from the downloaded module directory instead.
  say "go mod download github.com/moby/buildkit@$BUILDKIT_VERSION"
  bk_dir=$(go mod download -json "github.com/moby/buildkit@$BUILDKIT_VERSION" 2>"$RIG_LOGS/go-buildkit.log" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') || true
  [[ -n $bk_dir && -d $bk_dir ]] || die "go mod download of buildkit failed: see $RIG_LOGS/go-buildkit.log"
  go_install "buildkit@$BUILDKIT_VERSION" go-buildkit.log \
    "-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION" "$bk_dir" ./cmd/buildkitd ./cmd/buildctl
fi
go_install "buildx@$BUILDX_VERSION" go-buildx.log \
  "-X github.com/docker/buildx/version.Version=$BUILDX_VERSION" - "github.com/docker/buildx/cmd/buildx@$BUILDX_VERSION"
go_install "act@$ACT_VERSION" go-act.log "-X main.version=$ACT_VERSION" - "github.com/nektos/act@$ACT_VERSION"
go_install "cosign@$COSIGN_VERSION" go-cosign.log "-X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" - \
  "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"

# The buildx plugin, where the docker CLI looks for it (also with a private DOCKER_CONFIG).
for d in /usr/local/lib/docker/cli-plugins "$HOME/.docker/cli-plugins"; do
  mkdir -p "$d"
  cmp -s "$RIG_BIN/buildx" "$d/docker-buildx" || install -m 0755 "$RIG_BIN/buildx" "$d/docker-buildx"
done


# --- realrack (Convox's own rack API, for the rack tests) ----------------------
# scripts/rack/build.sh builds the harness once into its cache (minutes: client-go and the cloud
# SDKs), so that the tests never wait for it. Without Convox's source only the rack tests fail
# (with build.sh's reason), not the rest of the rig.
bash "$RIG_ROOT/scripts/rack/build.sh" >"$RIG_LOGS/realrack-build.log" 2>&1 ||
  say "warning: the rack harness was not built, the rack tests will fail: $(tail -n 1 "$RIG_LOGS/realrack-build.log")"
