#!/usr/bin/env bash
# Imports image archives into a throwaway containerd of its own (own root, state and socket
# under PGOP_IMAGES_CHECK_DIR, default /tmp/pgop-images-containerd), lists them with their
# sizes, then stops it and removes its directories and mounts. The host's containerd, if any,
# is left alone.
# With --run it also runs each image under runc (ctr run): every postgres image starts as its
# entrypoint wants (root, then 999), answers pg_isready and SELECT version() with its own tools on
# 127.0.0.1 and stops on SIGINT; the operator image starts read-only as 1993 with no network and
# fails only on the missing kubeconfig it is given.
# (ctr run replaces the whole command line, so the checks spell out the entrypoint.)
# Usage: scripts/images/check-import.sh [--run] ARCHIVE...   (e.g. "$(scripts/images/build.sh)")
set -euo pipefail
dir="${PGOP_IMAGES_CHECK_DIR:-/tmp/pgop-images-containerd}"
die() {
  echo "check-import: error: $*" >&2
  exit 1
}
run=0
if [[ "${1:-}" == "--run" ]]; then
  run=1
  shift
fi
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
  local c
  for c in $(ctr -a "${sock}" -n k8s.io containers ls -q 2>/dev/null); do
    ctr -a "${sock}" -n k8s.io tasks kill -s SIGKILL "${c}" >/dev/null 2>&1 || true
    sleep 0.5
    ctr -a "${sock}" -n k8s.io tasks delete "${c}" >/dev/null 2>&1 || true
    ctr -a "${sock}" -n k8s.io containers delete "${c}" >/dev/null 2>&1 || true
  done
  kill "${pid}" 2>/dev/null && wait "${pid}" 2>/dev/null || true
  # Shims outlive containerd: stop ours (their command line names our socket).
  pgrep -f -- "-address ${sock}" | xargs -r kill 2>/dev/null || true
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

[[ "${run}" == "1" ]] || exit 0
c() { ctr -a "${sock}" -n k8s.io "$@"; }
port=$((30000 + RANDOM % 20000))
for ref in $(c images ls -q | grep -E '/postgres:[0-9]+$'); do
  major="${ref##*:}"
  id="check-pg-${major}"
  c run -d --net-host --env POSTGRES_PASSWORD=check --env PGDATA=/var/lib/postgresql/data/pgdata \
    "${ref}" "${id}" docker-entrypoint.sh postgres -c port="${port}" -c listen_addresses=127.0.0.1 >/dev/null
  ok=0
  for _ in $(seq 1 100); do
    if c tasks exec --exec-id ready "${id}" pg_isready -q -h 127.0.0.1 -p "${port}" 2>/dev/null; then ok=1; break; fi
    sleep 0.3
  done
  [[ "${ok}" == "1" ]] || die "${ref}: not ready under runc"
  version="$(c tasks exec --exec-id psql "${id}" env PGPASSWORD=check psql -h 127.0.0.1 -p "${port}" -U postgres -tAc 'SELECT version()')"
  user="$(c tasks exec --exec-id ps "${id}" bash -c 'stat -c %u /proc/1')"
  c tasks kill -s SIGINT "${id}"
  for _ in $(seq 1 50); do
    c tasks ls | grep -q "^${id} .*STOPPED" && break
    sleep 0.2
  done
  c tasks ls | grep -q "^${id} .*STOPPED" || die "${ref}: still running 10 s after SIGINT"
  c tasks delete "${id}" >/dev/null && c containers delete "${id}"
  echo "runc ${ref}: ready, uid ${user}, stopped on SIGINT: ${version}"
done
for ref in $(c images ls -q | grep -E '/postgres-operator:'); do
  # The image's own User applies (ctr 1.6 has no --user).
  uid="$(c run --rm --read-only "${ref}" check-operator-uid id -u)"
  [[ "${uid}" == "1993" ]] || die "${ref}: runs as uid ${uid}, not 1993"
  out="$(c run --rm --read-only \
    --mount type=tmpfs,src=tmpfs,dst=/tmp,options=rw:nosuid:nodev \
    "${ref}" check-operator deno run --cached-only --frozen --no-prompt --allow-read --allow-env \
    --allow-net --allow-sys main.ts start --kubeconfig /nonexistent 2>&1)" && die "${ref}: started without a kubeconfig"
  grep -q 'Cannot read kubeconfig "/nonexistent"' <<<"${out}" || die "${ref}: unexpected output: ${out}"
  echo "runc ${ref}: read-only, uid 1993, no network: ${out}"
done
