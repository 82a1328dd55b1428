#!/usr/bin/env bash
# Builds the rack harness (this folder) against Convox's source at the pinned commit, and prints
# the binary's path. The binary is kept in $CONVOX_BUILD_RACK_CACHE (default
# ~/.cache/convox-build-rack), named by a hash of this folder's sources, the commit and the Go
# version: minutes the first time (client-go and the cloud SDKs), at once after.
#
# Convox's source, the first found of:
#   1. $CONVOX_SRC: a tree of github.com/convox/convox at the commit below
#   2. <repo>/../shared/realrack/convox-src, when there
#   3. the Go module proxy: go mod download github.com/convox/convox@<go.mod's pseudo-version>
#   4. git: a shallow fetch of that commit from $CONVOX_GIT_URL (default
#      https://github.com/convox/convox) into the cache
# Convox's own helper modules (stdapi, logger, ...) come from that tree's vendor/ when it has
# them, else from the Go module proxy; everything else from the Go module proxy, checked
# against go.sum. go.mod names no local path: the replace lines live in a go.mod made for the
# build (-modfile).
#
# usage: build.sh             builds when needed; prints the binary's path
#        build.sh --source    prints the directory of Convox's source it would build against
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
CONVOX_COMMIT=9e024526075ea2710f6ec06bd83b7103924463c9 # 3.24.9-4
CONVOX_GIT_URL=${CONVOX_GIT_URL:-https://github.com/convox/convox}
cache=${CONVOX_BUILD_RACK_CACHE:-$HOME/.cache/convox-build-rack}

say() { echo "rack: $*" >&2; }
die() {
  echo "rack: $*" >&2
  exit 1
}

# Go's usual install places count even when not on PATH (as scripts/rig/tools.sh).
for d in /usr/local/go/bin "$HOME/go/bin" "$HOME/sdk/go/bin"; do
  [[ -x $d/go && :$PATH: != *:$d:* ]] && PATH=$PATH:$d
done
command -v go >/dev/null || die "go is not on PATH (scripts/rig/tools.sh installs it)"
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}

version=$(sed -n 's|^[[:space:]]*github.com/convox/convox \(v[^[:space:]]*\).*|\1|p' "$here/go.mod")
[[ $version == *-"${CONVOX_COMMIT:0:12}" ]] ||
  die "go.mod requires github.com/convox/convox $version, not the commit $CONVOX_COMMIT pinned in build.sh"

# --- where the binary is -------------------------------------------------------
stamp=$({
  cat "$here"/*.go "$here/go.mod" "$here/go.sum" "$here/build.sh"
  echo "$CONVOX_COMMIT $(cd "$here" && go env GOVERSION)" # the toolchain go.mod selects
} | sha256sum | cut -c1-16)
bin=$cache/rack-$stamp
mkdir -p "$cache"
if command -v flock >/dev/null; then
  exec 9>"$cache/.lock"
  flock 9 # one build at a time; the others then find it built
fi
if [[ -x $bin && ${1:-} != --source ]]; then
  touch "$bin"
  echo "$bin"
  exit 0
fi

# --- Convox's source -----------------------------------------------------------
# check_tree DIR WHAT: DIR holds github.com/convox/convox, at the pinned commit when it says so.
check_tree() {
  local dir=$1 what=$2 commit=
  grep -qx 'module github.com/convox/convox' "$dir/go.mod" 2>/dev/null ||
    die "$what ($dir) is not Convox's source: no go.mod of github.com/convox/convox in it"
  if [[ -f $dir/.commit ]]; then
    commit=$(tr -d '[:space:]' <"$dir/.commit")
  elif git -C "$dir" rev-parse --show-toplevel 2>/dev/null | grep -qxF "$(cd "$dir" && pwd -P)"; then
    commit=$(git -C "$dir" rev-parse HEAD)
  fi
  [[ -z $commit || $commit == "$CONVOX_COMMIT" ]] ||
    die "$what ($dir) is Convox at $commit; the rack tests pin $CONVOX_COMMIT"
  [[ -n $commit ]] || say "$what ($dir) does not say its commit; taken as $CONVOX_COMMIT"
}

# mod_dir MODULE@VERSION: the module's directory in the Go module cache, through the Go module
# proxy; empty when it cannot be had (the go command's answer is kept in $work/download.log).
mod_dir() {
  local out
  out=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$1" 2>&1) || true
  printf '%s\n' "$out" >>"$work/download.log"
  printf '%s\n' "$out" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

# download_error: the go command's reason, in one line.
download_error() {
  sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' "$work/download.log" | tail -n 1 | sed 's/\\n\\t/ /g; s/\\n/ /g'
}

from_git() {
  local dir=$cache/convox-$CONVOX_COMMIT
  if [[ ! -f $dir/.commit ]]; then
    command -v git >/dev/null || return 1
    say "fetching $CONVOX_GIT_URL at $CONVOX_COMMIT"
    rm -rf "$dir.tmp"
    if ! { git init -q "$dir.tmp" &&
      git -C "$dir.tmp" fetch -q --depth 1 "$CONVOX_GIT_URL" "$CONVOX_COMMIT" &&
      git -C "$dir.tmp" -c advice.detachedHead=false checkout -q FETCH_HEAD; }; then
      rm -rf "$dir.tmp"
      return 1
    fi
    echo "$CONVOX_COMMIT" >"$dir.tmp/.commit"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
shared=$repo/../shared/realrack/convox-src
if [[ -n ${CONVOX_SRC:-} ]]; then
  src=$CONVOX_SRC
  check_tree "$src" CONVOX_SRC
elif [[ -d $shared ]]; then
  src=$shared
  check_tree "$src" ../shared/realrack/convox-src
else
  say "no CONVOX_SRC and no ../shared/realrack/convox-src: asking the Go module proxy for github.com/convox/convox@$version"
  src=$(mod_dir "github.com/convox/convox@$version")
  if [[ -z $src ]]; then
    say "the Go module proxy ($(go env GOPROXY)) did not serve it: $(download_error)"
    say "trying git instead"
    src=$(from_git) ||
      die "cannot get Convox's source at $CONVOX_COMMIT, neither from the Go module proxy nor from $CONVOX_GIT_URL: set CONVOX_SRC to a tree of github.com/convox/convox at that commit"
  fi
fi
src=$(cd "$src" && pwd -P)
if [[ ${1:-} == --source ]]; then
  echo "$src"
  exit 0
fi

# --- the go.mod of this build: ours, with the replace lines ----------------------
# helper_module NAME VERSION: a directory for github.com/convox/NAME. A vendored copy has no
# go.mod of its own in Convox's repository (go mod vendor leaves it out): one is written, with the
# go version vendor/modules.txt gives it.
helper_module() {
  local name=$1 ver=$2 vendored=$src/vendor/github.com/convox/$1 dir goversion
  if [[ -d $vendored && -f $vendored/go.mod ]]; then
    echo "$vendored"
  elif [[ -d $vendored ]]; then
    dir=$work/convox-modules/$name
    mkdir -p "$dir" && cp -R "$vendored/." "$dir/"
    goversion=$(sed -n "/^# github.com\/convox\/$name /,/^# /s/^## explicit; go \([0-9.]*\)$/\1/p" \
      "$src/vendor/modules.txt" 2>/dev/null | head -n 1)
    printf 'module github.com/convox/%s\n\ngo %s\n' "$name" "${goversion:-1.16}" >"$dir/go.mod"
    echo "$dir"
  else
    dir=$(mod_dir "github.com/convox/$name@$ver")
    [[ -n $dir ]] || die "cannot get github.com/convox/$name@$ver: $src has no vendor/ copy, and the Go module proxy did not serve it: $(download_error)"
    echo "$dir"
  fi
}
cp "$here/go.mod" "$work/go.mod"
cp "$here/go.sum" "$work/go.sum"
{
  echo
  echo "replace github.com/convox/convox => $src"
  sed -n 's|^[[:space:]]*github.com/convox/\([^[:space:]]*\) \(v[^[:space:]]*\).*|\1 \2|p' "$src/go.mod" |
    sort -u | while read -r name ver; do
      dir=$(helper_module "$name" "$ver") || exit 1
      echo "replace github.com/convox/$name => $dir"
    done
} >>"$work/go.mod"

say "building $bin against $src (minutes the first time: client-go and the cloud SDKs)"
(cd "$here" && go build -modfile="$work/go.mod" -mod=readonly -buildvcs=false -trimpath -ldflags "-s -w" -o "$bin.tmp" .) >&2 ||
  die "go build failed, with these replace lines: $(grep '^replace' "$work/go.mod" | tr '\n' ';')"
mv "$bin.tmp" "$bin"
# builds of other sources (other checkouts share the cache) go after a month unused
find "$cache" -maxdepth 1 -name 'rack-*' -type f -mtime +30 -delete
echo "$bin"
