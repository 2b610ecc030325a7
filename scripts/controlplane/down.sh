#!/usr/bin/env bash
# Stop the control plane started by up.sh: exactly the processes recorded in
# $PGOP_CONTROLPLANE_STATE/pids (each checked to still be the same binary, so
# a reused pid is never killed), newest first. SIGTERM, then SIGKILL after a
# bounded wait. Then removes the state dir (only one made by up.sh).
#
# Usage: scripts/controlplane/down.sh   (PGOP_CP_KEEP_STATE=1 keeps the state dir, e.g. for logs)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "${here}/lib.sh"

S="${PGOP_CONTROLPLANE_STATE}"
if [[ ! -d "${S}" ]]; then
  cp_log "nothing to stop: ${S} does not exist"
  exit 0
fi
[[ -f "${S}/.pgop-controlplane" ]] || cp_die "${S} was not made by up.sh; refusing to touch it"
[[ -f "${S}/env" ]] && cp_load_state

# PGOP_CP_STOP_TIMEOUT: seconds to wait after SIGTERM before SIGKILL (default 20).
failed=0

stop_one() {
  local name="$1" pid
  if ! cp_running "${name}"; then
    rm -f "$(cp_pidfile "${name}")"
    return 0
  fi
  pid="$(<"$(cp_pidfile "${name}")")"
  cp_log "stopping ${name} (pid ${pid})"
  if cp_stop_pid "${name}" "${pid}"; then
    rm -f "$(cp_pidfile "${name}")"
  else
    cp_log "ERROR: ${name} (pid ${pid}) did not exit"
    failed=1
  fi
}

# A real node first, while the API server can still delete its pods.
if [[ -d "${S}/node" ]]; then
  "${here}/node-down.sh" || failed=1
fi

# Reverse start order: kwok and the controllers first, etcd last.
for ((i = ${#PGOP_CP_COMPONENTS[@]} - 1; i >= 0; i--)); do
  stop_one "${PGOP_CP_COMPONENTS[i]}"
done

# The guard up.sh put before an API server that binds every address and the object store on the
# bridge address (real-node mode).
if [[ -f "${S}/apiserver-guard" ]]; then
  while iptables -D INPUT -p tcp --dport "${PGOP_CP_S3_PORT:-0}" -m comment --comment pgop-s3-guard \
    -j PGOP-APISERVER-GUARD 2>/dev/null; do :; done
  while iptables -D INPUT -p tcp --dport "${PGOP_CP_APISERVER_PORT:-0}" -m comment --comment pgop-apiserver-guard \
    -j PGOP-APISERVER-GUARD 2>/dev/null; do :; done
  iptables -F PGOP-APISERVER-GUARD 2>/dev/null && iptables -X PGOP-APISERVER-GUARD 2>/dev/null
  rm -f "${S}/apiserver-guard"
  cp_nft_cleanup "${S}/nft-tables.orig"
fi

if ((failed)); then
  cp_die "some processes did not stop; state kept in ${S}"
fi

if [[ "${PGOP_CP_KEEP_STATE:-0}" == "1" ]]; then
  cp_log "stopped; state kept in ${S}"
else
  rm -rf "${S}"
  cp_log "stopped; removed ${S}"
fi
