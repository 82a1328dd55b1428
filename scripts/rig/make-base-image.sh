#!/usr/bin/env bash
# Writes a small linux/amd64 OCI image layout made from Debian's busybox-static:
#   make-base-image.sh OUT_DIR TAG...
# The rootfs holds /bin/busybox and a symlink per applet. Output is deterministic
# (fixed mtimes, owners and order), so the digest only changes with busybox itself.
set -euo pipefail

out=$1
shift
[[ $# -gt 0 ]] || set -- latest
busybox=${BUSYBOX:-/bin/busybox}
[[ -x $busybox ]] || { echo "make-base-image: $busybox is missing (apt-get install busybox-static)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
umask 022
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,var/tmp,home}
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"
install -m 0755 "$busybox" "$root/bin/busybox"
while read -r applet; do
  [[ -n $applet && $applet != bin/busybox && ! -e $root/$applet ]] || continue
  mkdir -p "$root/$(dirname "$applet")"
  ln -s /bin/busybox "$root/$applet"
done < <("$busybox" --list-full)
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
  -C "$root" -cf "$work/layer.tar" .
gzip -9 -n -c "$work/layer.tar" >"$work/layer.tar.gz"

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
diff_id=$(sha "$work/layer.tar")

rm -rf "$out"
mkdir -p "$out/blobs/sha256"
put() { # put FILE: stores FILE as a blob, prints its digest
  local d
  d=$(sha "$1")
  cp "$1" "$out/blobs/sha256/$d"
  echo "$d"
}

layer=$(put "$work/layer.tar.gz")
cat >"$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"convox-build rig: busybox-static rootfs"}]}
JSON
config=$(put "$work/config.json")
cat >"$work/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config","size":$(size "$work/config.json")},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:$layer","size":$(size "$work/layer.tar.gz")}]}
JSON
manifest=$(put "$work/manifest.json")

entries=()
for tag in "$@"; do
  entries+=("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$manifest\",\"size\":$(size "$work/manifest.json"),\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\"annotations\":{\"org.opencontainers.image.ref.name\":\"$tag\"}}")
done
(IFS=,; printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}\n' "${entries[*]}") >"$out/index.json"
printf '{"imageLayoutVersion":"1.0.0"}\n' >"$out/oci-layout"
echo "sha256:$manifest"
