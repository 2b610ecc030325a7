# shellcheck shell=bash
# Shared settings for the scripts/controlplane/* scripts. Source it, don't run it.
#
# Everything here can be overridden from the environment:
#   PGOP_K8S_VERSION          Kubernetes release the binaries are built from.
#   PGOP_KWOK_VERSION         kwok release (fake kubelets).
#   PGOP_VERSITYGW_VERSION    versitygw release (the S3-compatible object store).
#   PGOP_CONTROLPLANE_CACHE   where built binaries are cached (outside the repo).
#   PGOP_CONTROLPLANE_STATE   where a running control plane keeps certs, data, logs, pids.

# Pinned versions. etcd is not pinned here: build.sh uses the
# go.etcd.io/etcd/server/v3 version that Kubernetes' own go.mod requires.
PGOP_K8S_VERSION="${PGOP_K8S_VERSION:-v1.35.4}"
PGOP_KWOK_VERSION="${PGOP_KWOK_VERSION:-v0.8.0}"
# Cluster DNS for the real node (built by build.sh with only the plugins it needs).
PGOP_COREDNS_VERSION="${PGOP_COREDNS_VERSION:-v1.14.7}"
# The plugins linked in, in the order they see a query (upstream's plugin.cfg order).
PGOP_COREDNS_PLUGINS="${PGOP_COREDNS_PLUGINS:-bind health errors cache kubernetes}"

PGOP_CONTROLPLANE_CACHE="${PGOP_CONTROLPLANE_CACHE:-${HOME}/.cache/pgop-controlplane}"
# One directory per version pair, so bumping a version never reuses stale binaries.
PGOP_CP_BUILD_DIR="${PGOP_CONTROLPLANE_CACHE}/k8s-${PGOP_K8S_VERSION}-kwok-${PGOP_KWOK_VERSION}"
PGOP_CP_BIN="${PGOP_CP_BUILD_DIR}/bin"
# CoreDNS has its own version, so its own cache dir.
PGOP_COREDNS_BIN="${PGOP_CONTROLPLANE_CACHE}/coredns-${PGOP_COREDNS_VERSION}-${PGOP_COREDNS_PLUGINS// /.}/coredns"
# The S3-compatible object store backups go to (versitygw, POSIX backend), in its own cache dir.
PGOP_VERSITYGW_VERSION="${PGOP_VERSITYGW_VERSION:-v1.8.0}"
PGOP_VERSITYGW_BIN="${PGOP_CONTROLPLANE_CACHE}/versitygw-${PGOP_VERSITYGW_VERSION}/versitygw"
# Every binary build.sh produces; up.sh checks for all of them.
# shellcheck disable=SC2034 # used by the scripts that source this file
PGOP_CP_BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy kwok)

PGOP_CONTROLPLANE_STATE="${PGOP_CONTROLPLANE_STATE:-/tmp/pgop-controlplane}"

# The real node (up.sh with PGOP_CP_REAL_NODE=1; node-up.sh, node-down.sh). One per machine: it
# owns a bridge, iptables chains, cgroups and /run paths that are host-wide.
PGOP_NODE_NAME="${PGOP_NODE_NAME:-realnode-1}"
PGOP_NODE_BRIDGE="${PGOP_NODE_BRIDGE:-pgop-br0}"
PGOP_NODE_SUBNET="${PGOP_NODE_SUBNET:-10.88.0.0/24}"
# The bridge's address: the node IP, the gateway of the pods, and where pods reach the API server
# and CoreDNS.
PGOP_NODE_IP="${PGOP_NODE_IP:-10.88.0.1}"
PGOP_NODE_KUBELET_PORT="${PGOP_NODE_KUBELET_PORT:-18250}"
PGOP_NODE_KUBELET_HEALTHZ_PORT="${PGOP_NODE_KUBELET_HEALTHZ_PORT:-18248}"
PGOP_NODE_PROXY_HEALTHZ_PORT="${PGOP_NODE_PROXY_HEALTHZ_PORT:-18256}"
PGOP_NODE_PROXY_METRICS_PORT="${PGOP_NODE_PROXY_METRICS_PORT:-18249}"
PGOP_NODE_DNS_HEALTH_PORT="${PGOP_NODE_DNS_HEALTH_PORT:-18281}"
PGOP_NODE_CGROUP_ROOT="${PGOP_NODE_CGROUP_ROOT:-pgop-realnode}"
# Held (flock) while a real node is brought up or down, and names the state dir that owns it.
PGOP_NODE_LOCK="${PGOP_NODE_LOCK:-/run/lock/pgop-realnode.lock}"
PGOP_NODE_OWNER="${PGOP_NODE_OWNER:-/run/lock/pgop-realnode.owner}"
# Components of the real node, in start order; node-down.sh stops them in reverse.
# shellcheck disable=SC2034 # used by the scripts that source this file
PGOP_NODE_COMPONENTS=(containerd coredns kubelet kube-proxy provisioner)

# Print to stderr with a prefix.
cp_log() { printf '[controlplane] %s\n' "$*" >&2; }

# Print an error, the tail of an optional log file, and exit 1.
cp_die() {
  local msg="$1" logfile="${2:-}"
  printf '[controlplane] ERROR: %s\n' "$msg" >&2
  if [[ -n "$logfile" && -f "$logfile" ]]; then
    printf '[controlplane] ---- last 40 lines of %s ----\n' "$logfile" >&2
    tail -n 40 "$logfile" >&2 || true
    printf '[controlplane] ---- end of %s ----\n' "$logfile" >&2
  fi
  exit 1
}

# ---------------------------------------------------------------------------
# Runtime helpers shared by up.sh, down.sh and restart-apiserver.sh.
# ---------------------------------------------------------------------------

# Order in which components are started; down.sh stops them in reverse.
# shellcheck disable=SC2034 # used by the scripts that source this file
PGOP_CP_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok versitygw)

# Seconds to wait for each component (and for nodes/pods) before giving up.
PGOP_CP_TIMEOUT="${PGOP_CP_TIMEOUT:-90}"

# Succeeds if PID exists and is not a zombie. Daemons outlive up.sh and are
# reparented to init, which may reap them late; a zombie counts as exited.
cp_pid_alive() {
  local pid="$1" state
  kill -0 "${pid}" 2>/dev/null || return 1
  state="$(awk '{print $3}' "/proc/${pid}/stat" 2>/dev/null || true)"
  [[ -n "${state}" && "${state}" != "Z" && "${state}" != "X" ]]
}

# cp_stop_pid NAME PID [GRACE]: SIGTERM, wait up to GRACE seconds (default
# PGOP_CP_STOP_TIMEOUT, else 20), then SIGKILL and wait up to 10 more.
# GRACE 0 means SIGKILL at once. Fails if the process is still alive.
cp_stop_pid() {
  local name="$1" pid="$2" grace="${3:-${PGOP_CP_STOP_TIMEOUT:-20}}" deadline
  if ((grace > 0)); then
    kill -TERM "${pid}" 2>/dev/null || true
    deadline=$((SECONDS + grace))
    while cp_pid_alive "${pid}" && ((SECONDS < deadline)); do
      sleep 0.2
    done
  fi
  if cp_pid_alive "${pid}"; then
    ((grace > 0)) && cp_log "${name} (pid ${pid}) still running after ${grace}s; sending SIGKILL"
    kill -KILL "${pid}" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while cp_pid_alive "${pid}" && ((SECONDS < deadline)); do
      sleep 0.2
    done
  fi
  ! cp_pid_alive "${pid}"
}

cp_pidfile() { printf '%s/pids/%s.pid' "${PGOP_CONTROLPLANE_STATE}" "$1"; }
cp_logfile() { printf '%s/logs/%s.log' "${PGOP_CONTROLPLANE_STATE}" "$1"; }

# Succeeds if the pid in NAME's pid file is alive AND is really that binary
# (guards against pid reuse after a crash or reboot).
cp_running() {
  local name="$1" pidfile pid exe
  pidfile="$(cp_pidfile "${name}")"
  [[ -f "${pidfile}" ]] || return 1
  pid="$(<"${pidfile}")"
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  cp_pid_alive "${pid}" || return 1
  exe="$(readlink "/proc/${pid}/exe" 2>/dev/null || true)"
  # cp_spawn records the binary's name when it differs from the component's (a script's
  # interpreter, for example).
  local want="${name}" exefile="${PGOP_CONTROLPLANE_STATE}/pids/${name}.exe"
  [[ -f "${exefile}" ]] && want="$(<"${exefile}")"
  [[ "${exe}" == */"${want}" || "${exe}" == */"${want} (deleted)" ]]
}

# cp_spawn NAME BINARY ARGS...: start a daemon detached from our session
# (setsid: a signal to the caller's process group doesn't kill it), stdout and
# stderr appended to its log file, pid written to its pid file.
cp_spawn() {
  local name="$1"; shift
  local log pidfile pid
  log="$(cp_logfile "${name}")"
  pidfile="$(cp_pidfile "${name}")"
  printf '\n==== %s starting %s at %s ====\n' "${name}" "$*" "$(date -u +%FT%TZ)" >>"${log}"
  # Scripts run without job control, so the background child is not a process
  # group leader and setsid execs in place: $! is the daemon's own pid.
  # The daemon must not inherit the scripts' lock descriptors (8: the real node, 9: the build),
  # or the lock would stay held for as long as it runs.
  setsid "$@" </dev/null >>"${log}" 2>&1 8>&- 9>&- &
  pid=$!
  echo "${pid}" >"${pidfile}"
  local exe
  exe="$(basename "$(readlink -f "$(command -v "$1")")")"
  if [[ "${exe}" != "${name}" ]]; then echo "${exe}" >"${pidfile%.pid}.exe"; else rm -f "${pidfile%.pid}.exe"; fi
  cp_log "started ${name} (pid ${pid}, log ${log})"
}

# cp_wait_until NAME DESCRIPTION CMD...: poll CMD every 0.5s until it succeeds,
# NAME's process dies (fail at once), or PGOP_CP_TIMEOUT passes.
cp_wait_until() {
  local name="$1" what="$2"; shift 2
  local deadline=$((SECONDS + PGOP_CP_TIMEOUT))
  while ! "$@" >/dev/null 2>&1; do
    if [[ -n "${name}" ]] && ! cp_running "${name}"; then
      cp_die "${name} exited while waiting for ${what}" "$(cp_logfile "${name}")"
    fi
    if ((SECONDS >= deadline)); then
      cp_die "timed out after ${PGOP_CP_TIMEOUT}s waiting for ${what}" \
        "$([[ -n "${name}" ]] && cp_logfile "${name}")"
    fi
    sleep 0.5
  done
}

# curl helper: HTTPS to the apiserver as admin, body to stdout.
cp_curl_apiserver() {
  local s="${PGOP_CONTROLPLANE_STATE}/pki"
  curl -fsS --max-time 5 --cacert "${s}/ca.crt" --cert "${s}/admin.crt" --key "${s}/admin.key" \
    "https://127.0.0.1:${PGOP_CP_APISERVER_PORT}$1"
}
cp_apiserver_ready() { [[ "$(cp_curl_apiserver /readyz)" == "ok" ]]; }

# The kube-apiserver command line, in one place so restart-apiserver.sh starts
# it exactly as up.sh did. Needs the variables from $STATE/env.
# With fake nodes only (the default): --endpoint-reconciler-type=none, so the
# `kubernetes` Service keeps no Endpoints, since 127.0.0.1 is not a valid
# endpoint address (the reconciler would log an error every 10s). With a real
# node, up.sh binds every address (a guard chain admits only loopback and the
# node's bridge) and advertises the bridge address, so pods reach the API
# server through the `kubernetes` Service. The kubelet client certificate
# serves logs, exec and port-forward on a real node.
# The front-proxy (requestheader) CA is only there so that components that
# read extension-apiserver-authentication find a complete config.
cp_start_apiserver() {
  local s="${PGOP_CONTROLPLANE_STATE}"
  cp_spawn kube-apiserver "${PGOP_CP_BIN}/kube-apiserver" \
    --bind-address="${PGOP_CP_APISERVER_BIND:-127.0.0.1}" \
    --advertise-address="${PGOP_CP_APISERVER_ADVERTISE:-127.0.0.1}" \
    --endpoint-reconciler-type="${PGOP_CP_ENDPOINT_RECONCILER:-none}" \
    --secure-port="${PGOP_CP_APISERVER_PORT}" \
    --etcd-servers="http://127.0.0.1:${PGOP_CP_ETCD_PORT}" \
    --cert-dir="${s}/apiserver-certs" \
    --tls-cert-file="${s}/pki/apiserver.crt" \
    --tls-private-key-file="${s}/pki/apiserver.key" \
    --client-ca-file="${s}/pki/ca.crt" \
    --requestheader-client-ca-file="${s}/pki/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="${s}/pki/front-proxy-client.crt" \
    --proxy-client-key-file="${s}/pki/front-proxy-client.key" \
    --authorization-mode=Node,RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="${s}/pki/sa.pub" \
    --service-account-signing-key-file="${s}/pki/sa.key" \
    --service-cluster-ip-range="${PGOP_CP_SERVICE_CIDR}" \
    --allow-privileged=true \
    --kubelet-client-certificate="${s}/pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key="${s}/pki/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP,Hostname \
    --profiling=false \
    --v="${PGOP_CP_VERBOSITY:-1}"
}

cp_wait_apiserver() {
  cp_wait_until kube-apiserver "kube-apiserver /readyz on 127.0.0.1:${PGOP_CP_APISERVER_PORT}" cp_apiserver_ready
  cp_log "kube-apiserver ready on https://127.0.0.1:${PGOP_CP_APISERVER_PORT}"
}

# Load the settings up.sh recorded for a running control plane.
# cp_start_s3 ACCESS SECRET REAL_NODE: start versitygw (POSIX backend under $STATE/s3) with these
# root credentials (in its environment, never on its command line), on 127.0.0.1 and, with a real
# node, on the bridge address too; wait until /health answers on each. Used by up.sh and s3.sh.
cp_start_s3() {
  local access="$1" secret="$2" real_node="$3" listen
  listen=(--port "127.0.0.1:${PGOP_CP_S3_PORT}")
  [[ "${real_node}" == "1" ]] && listen+=(--port "${PGOP_NODE_IP}:${PGOP_CP_S3_PORT}")
  ROOT_ACCESS_KEY_ID="${access}" ROOT_SECRET_ACCESS_KEY="${secret}" \
    cp_spawn versitygw "${PGOP_VERSITYGW_BIN}" "${listen[@]}" --health /health --quiet \
    posix "${PGOP_CONTROLPLANE_STATE}/s3"
  cp_wait_until versitygw "versitygw /health on 127.0.0.1:${PGOP_CP_S3_PORT}" cp_s3_healthy 127.0.0.1
  if [[ "${real_node}" == "1" ]]; then
    cp_wait_until versitygw "versitygw /health on ${PGOP_NODE_IP}:${PGOP_CP_S3_PORT}" \
      cp_s3_healthy "${PGOP_NODE_IP}"
  fi
}

# cp_s3_healthy HOST: versitygw answers OK on /health there.
cp_s3_healthy() { [[ "$(curl -fsS --max-time 3 "http://$1:${PGOP_CP_S3_PORT}/health")" == "OK" ]]; }

cp_load_state() {
  local envfile="${PGOP_CONTROLPLANE_STATE}/env"
  [[ -f "${envfile}" ]] || cp_die "no control plane state in ${PGOP_CONTROLPLANE_STATE} (run up.sh first)"
  # shellcheck source=/dev/null
  source "${envfile}"
}

# cp_nft_cleanup BASELINE: delete the nft tables that are not listed in BASELINE
# (`nft list tables` taken before) and hold no rules now. iptables-nft creates
# tables such as `ip filter` on first use and never removes them.
cp_nft_cleanup() {
  local baseline="$1" t family name rules
  command -v nft >/dev/null && [[ -f "${baseline}" ]] || return 0
  while IFS= read -r t; do
    [[ -z "${t}" ]] && continue
    grep -qxF "${t}" "${baseline}" && continue
    read -r _ family name <<<"${t}"
    # grep -c exits 1 when it counts nothing: that is the case looked for, not a failure.
    rules="$(nft list table "${family}" "${name}" 2>/dev/null | grep -cvE '^[[:space:]]*(table|chain|type|policy|\}|$)' || true)"
    ((rules == 0)) && nft delete table "${family}" "${name}" 2>/dev/null
  done < <(nft list tables 2>/dev/null)
  return 0
}

# cp_make_kubeconfig FILE USER: a kubeconfig for USER's certificate ($STATE/pki/USER.crt and .key),
# certificates embedded, server on 127.0.0.1. Needs kubectl on PATH and PGOP_CP_APISERVER_PORT.
cp_make_kubeconfig() {
  local file="$1" user="$2" pki="${PGOP_CONTROLPLANE_STATE}/pki"
  {
    kubectl config --kubeconfig="${file}" set-cluster pgop \
      --server="https://127.0.0.1:${PGOP_CP_APISERVER_PORT}" \
      --certificate-authority="${pki}/ca.crt" --embed-certs=true
    kubectl config --kubeconfig="${file}" set-credentials "${user}" \
      --client-certificate="${pki}/${user}.crt" --client-key="${pki}/${user}.key" --embed-certs=true
    kubectl config --kubeconfig="${file}" set-context pgop --cluster=pgop --user="${user}"
    kubectl config --kubeconfig="${file}" use-context pgop
  } >/dev/null
  chmod 600 "${file}"
}
