#!/usr/bin/env bash
# Stop or start only the object store (versitygw) of a control plane started by up.sh, to test
# how backups cope with a store that goes away: `stop` kills it by its pid file and waits for its
# port to be free; `start` starts it again with the same credentials ($STATE/s3.env), addresses
# and data, and waits for /health.
#
# Usage: scripts/controlplane/s3.sh stop|start
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "${here}/lib.sh"
cp_load_state

s3env="${PGOP_CONTROLPLANE_STATE}/s3.env"
[[ -f "${s3env}" ]] || cp_die "no ${s3env}: this control plane has no object store"
# shellcheck source=/dev/null
source "${s3env}"
real_node=0
[[ -n "${PGOP_S3_POD_ENDPOINT:-}" ]] && real_node=1

case "${1:-}" in
  stop)
    pidfile="$(cp_pidfile versitygw)"
    if cp_running versitygw; then
      pid="$(<"${pidfile}")"
      cp_stop_pid versitygw "${pid}" 5 || cp_die "versitygw (pid ${pid}) did not exit"
      cp_log "versitygw stopped (pid ${pid})"
    else
      cp_log "versitygw was not running"
    fi
    rm -f "${pidfile}"
    deadline=$((SECONDS + PGOP_CP_TIMEOUT))
    while [[ -n "$(ss -Hltn "sport = :${PGOP_CP_S3_PORT}" 2>/dev/null)" ]]; do
      ((SECONDS < deadline)) || cp_die "port ${PGOP_CP_S3_PORT} still in use after versitygw exited"
      sleep 0.2
    done
    ;;
  start)
    cp_running versitygw && cp_die "versitygw is already running"
    cp_start_s3 "${PGOP_S3_ACCESS_KEY_ID}" "${PGOP_S3_SECRET_ACCESS_KEY}" "${real_node}"
    cp_log "versitygw started on http://127.0.0.1:${PGOP_CP_S3_PORT}"
    ;;
  *) cp_die "usage: s3.sh stop|start" ;;
esac
