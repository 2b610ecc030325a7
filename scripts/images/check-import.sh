#!/usr/bin/env bash
# Imports image archives into a throwaway containerd of its own (own root, state and socket
# under PGOP_IMAGES_CHECK_DIR, default /tmp/pgop-images-containerd), lists them with their
# sizes, then stops it and removes its directories and mounts. The host's containerd, if any,
# is left alone.
# Usage: scripts/images/check-import.sh ARCHIVE...   (e.g. "$(scripts/images/build.sh)")
set -euo pipefail
dir="${PGOP_IMAGES_CHECK_DIR:-/tmp/pgop-images-containerd}"
die() {
  echo "check-import: error: $*" >&2
  exit 1
}
[[ $# -gt 0 ]] || die "give the archives to import"
command -v containerd >/dev/null && command -v ctr >/dev/null ||
  die "containerd and ctr are not installed (apt-get install containerd)"
[[ ! -e "${dir}" ]] || die "${dir} exists: another check is running, or remove it"
mkdir -p "${dir}"
sock="${dir}/containerd.sock"
cat >"${dir}/config.toml" <<CONF
version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "${sock}"
[ttrpc]
  address = "${sock}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
CONF
containerd --config "${dir}/config.toml" >"${dir}/containerd.log" 2>&1 &
pid=$!
cleanup() {
  kill "${pid}" 2>/dev/null && wait "${pid}" 2>/dev/null || true
  grep -o "${dir}/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf --one-file-system "${dir}"
}
trap cleanup EXIT
for _ in $(seq 1 50); do [[ -S "${sock}" ]] && break; sleep 0.1; done
[[ -S "${sock}" ]] || die "containerd did not start: $(tail -n1 "${dir}/containerd.log")"
for a in "$@"; do
  s=${SECONDS}
  ctr -a "${sock}" -n k8s.io images import "${a}" >&2 || die "ctr import of ${a} failed"
  echo "imported ${a##*/} in $((SECONDS - s))s" >&2
done
ctr -a "${sock}" -n k8s.io images ls
ctr -a "${sock}" -n k8s.io images check
ctr -a "${sock}" -n k8s.io snapshots usage
echo "content store: $(du -sm "${dir}/root/io.containerd.content.v1.content" | cut -f1) MiB; snapshots: $(du -sm "${dir}/root/io.containerd.snapshotter.v1.overlayfs" | cut -f1) MiB"
