#!/usr/bin/env bash
# Writes a small OCI image layout made from Debian's busybox-static:
#   make-base-image.sh OUT_DIR TAG...                       one linux/amd64 image (/bin/busybox)
#   make-base-image.sh --arch amd64=BUSYBOX --arch arm64=BUSYBOX OUT_DIR TAG...
# With one --arch (or none) each TAG names the image manifest; with several, each TAG names an
# OCI index of one manifest per architecture. The rootfs holds /bin/busybox and a symlink per
# applet (listed by the host's busybox: the same Debian package for every architecture). Output
# is deterministic (fixed mtimes, owners and order), so digests only change with busybox itself.
set -euo pipefail

arches=()
while [[ ${1:-} == --arch ]]; do
  arches+=("$2")
  shift 2
done
((${#arches[@]})) || arches=("amd64=${BUSYBOX:-/bin/busybox}")
out=$1
shift
[[ $# -gt 0 ]] || set -- latest
lister=/bin/busybox
[[ -x $lister ]] || { echo "make-base-image: $lister is missing (apt-get install busybox-static)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 022
rm -rf "$out"
mkdir -p "$out/blobs/sha256"
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
put() { # put FILE: stores FILE as a blob, prints its digest
  local d
  d=$(sha "$1")
  cp "$1" "$out/blobs/sha256/$d"
  echo "$d"
}

# image ARCH BUSYBOX: writes one image's blobs, leaves its manifest at $work/ARCH/manifest.json
image() {
  local arch=$1 busybox=$2 dir=$work/$1 root diff_id layer config
  [[ -f $busybox ]] || { echo "make-base-image: $busybox is missing" >&2; exit 1; }
  root=$dir/rootfs
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,var/tmp,home}
  chmod 1777 "$root/tmp" "$root/var/tmp"
  chmod 700 "$root/root"
  install -m 0755 "$busybox" "$root/bin/busybox"
  while read -r applet; do
    [[ -n $applet && $applet != bin/busybox && ! -e $root/$applet ]] || continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -s /bin/busybox "$root/$applet"
  done < <("$lister" --list-full)
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
    -C "$root" -cf "$dir/layer.tar" .
  gzip -9 -n -c "$dir/layer.tar" >"$dir/layer.tar.gz"
  diff_id=$(sha "$dir/layer.tar")
  layer=$(put "$dir/layer.tar.gz")
  cat >"$dir/config.json" <<JSON
{"architecture":"$arch","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"convox-build rig: busybox-static rootfs"}]}
JSON
  config=$(put "$dir/config.json")
  cat >"$dir/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config","size":$(size "$dir/config.json")},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:$layer","size":$(size "$dir/layer.tar.gz")}]}
JSON
  put "$dir/manifest.json" >/dev/null
}

descriptors=()
for spec in "${arches[@]}"; do
  arch=${spec%%=*}
  image "$arch" "${spec#*=}"
  m=$work/$arch/manifest.json
  descriptors+=("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$(sha "$m")\",\"size\":$(size "$m"),\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"}")
done
if ((${#descriptors[@]} == 1)); then
  top=${descriptors[0]}
  digest=sha256:$(sha "$work/${arches[0]%%=*}/manifest.json")
else
  (IFS=,; printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' \
    "$(printf '%s},' "${descriptors[@]}" | sed 's/,$//')") >"$work/index.json"
  digest=sha256:$(put "$work/index.json")
  top="{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"$digest\",\"size\":$(size "$work/index.json")"
fi

entries=()
for tag in "$@"; do
  entries+=("$top,\"annotations\":{\"org.opencontainers.image.ref.name\":\"$tag\"}}")
done
(IFS=,; printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}\n' "${entries[*]}") >"$out/index.json"
printf '{"imageLayoutVersion":"1.0.0"}\n' >"$out/oci-layout"
echo "$digest"
