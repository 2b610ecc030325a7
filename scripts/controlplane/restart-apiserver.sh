#!/usr/bin/env bash
# Restart only kube-apiserver of a control plane started by up.sh (to test
# how clients cope with an apiserver outage). Kills it by its pid file,
# waits for it to exit, starts it with the very same flags
# (cp_start_apiserver in lib.sh) and waits for /readyz.
#
# Usage: scripts/controlplane/restart-apiserver.sh
#   PGOP_CP_APISERVER_DOWN_SECONDS=N  stay down N seconds before restarting (default 0)
#   PGOP_CP_APISERVER_STOP_GRACE=N    seconds between SIGTERM and SIGKILL (default 5;
#                                     0 = SIGKILL at once, a crash)
#
# Note: while clients hold watches open (kwok, the controllers, an operator),
# a SIGTERMed kube-apiserver stops serving at once but only exits after its
# shutdown timeout (= --request-timeout, 60s), as in a real cluster. A full
# graceful stop therefore needs PGOP_CP_APISERVER_STOP_GRACE=65; the default
# of 5s gives clients the GOAWAY/connection close and then kills it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "${here}/lib.sh"
cp_load_state

pidfile="$(cp_pidfile kube-apiserver)"
if cp_running kube-apiserver; then
  pid="$(<"${pidfile}")"
  cp_log "stopping kube-apiserver (pid ${pid})"
  cp_stop_pid kube-apiserver "${pid}" "${PGOP_CP_APISERVER_STOP_GRACE:-5}" || cp_die "kube-apiserver (pid ${pid}) did not exit"
else
  cp_log "kube-apiserver was not running; starting it"
fi
rm -f "${pidfile}"

# The port must be free again before the new process binds it.
deadline=$((SECONDS + PGOP_CP_TIMEOUT))
while [[ -n "$(ss -Hltn "sport = :${PGOP_CP_APISERVER_PORT}" 2>/dev/null)" ]]; do
  ((SECONDS < deadline)) || cp_die "port ${PGOP_CP_APISERVER_PORT} still in use after kube-apiserver exited"
  sleep 0.2
done

sleep "${PGOP_CP_APISERVER_DOWN_SECONDS:-0}"

start=${SECONDS}
cp_start_apiserver
cp_wait_apiserver
cp_log "kube-apiserver restarted in $((SECONDS - start))s"
