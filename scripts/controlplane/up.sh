#!/usr/bin/env bash
# Start a real Kubernetes control plane on 127.0.0.1 for integration tests:
# etcd, kube-apiserver (RBAC), kube-controller-manager (all default
# controllers: garbage collector, StatefulSet, PV binder, ...), kube-scheduler,
# and kwok, which plays kubelet for a few fake nodes so pods become
# Running/Ready, and provisions volumes for the default StorageClass
# `standard` so PVCs become Bound.
#
# Builds the binaries first if needed (scripts/controlplane/build.sh; instant
# when cached). On success prints `export KUBECONFIG=...` (and PATH for the
# matching kubectl) on stdout; everything else goes to stderr.
#
# Environment (all optional):
#   PGOP_CONTROLPLANE_STATE   state dir (default /tmp/pgop-controlplane): certs,
#                             etcd data, logs/, pids/, kubeconfig, env
#   PGOP_CP_ETCD_PORT, PGOP_CP_ETCD_PEER_PORT, PGOP_CP_APISERVER_PORT,
#   PGOP_CP_KCM_PORT, PGOP_CP_SCHEDULER_PORT, PGOP_CP_KWOK_PORT, PGOP_CP_S3_PORT
#                             ports on 127.0.0.1 (defaults 16379 16380 16443
#                             16257 16259 16247 16900)
#   PGOP_CP_S3_BUCKET         the bucket made in the object store (default pgop-backups)
#   PGOP_CP_NODES             number of fake nodes (default 3)
#   PGOP_CP_TIMEOUT           seconds to wait for each step (default 90)
#   PGOP_CP_SERVICE_CIDR      Service ClusterIP range (default 10.96.0.0/16)
#   PGOP_CP_POD_CIDR          range kwok takes fake pod IPs from (default 10.244.0.0/16)
#   PGOP_CP_NODE_IP_PREFIX    fake node n gets InternalIP <prefix>n (default 10.240.0.)
#   PGOP_CP_VERBOSITY         klog -v for the Kubernetes components (default 1)
#   PGOP_CP_NODE_PODS         pods each fake node takes (default 110, as a kubelet)
#   PGOP_CP_KCM_QPS, PGOP_CP_KCM_BURST
#                             kube-controller-manager's client rate limits (defaults 20 and
#                             30, its own): bench/cluster.ts raises them so that the StatefulSet
#                             controller does not pace the operators it measures
#
# An S3-compatible object store (versitygw, POSIX backend under $STATE/s3) runs beside the
# control plane on 127.0.0.1:PGOP_CP_S3_PORT with one bucket; its endpoint and root credentials
# are in $STATE/s3.env.
#
# Pod, node and Service IPs are bookkeeping only: nothing listens on them and no
# route leads there. Tests must not try to connect to them.
#
# Real-node mode (`up.sh --real-node`, or PGOP_CP_REAL_NODE=1): a real kubelet
# node with containerd, runc, a CNI bridge, kube-proxy, CoreDNS and a volume
# provisioner joins (node-up.sh; see README.md), pods run real containers from
# images built here (scripts/images/build.sh), and the API server is reachable
# from pods. kwok then runs only when PGOP_CP_NODES > 0 (default 0), with its
# nodes tainted and its volumes on StorageClass `kwok`, so the two stay apart.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "${here}/lib.sh"

start_time=${SECONDS}
S="${PGOP_CONTROLPLANE_STATE}"

for arg in "$@"; do
  case "${arg}" in
    --real-node) PGOP_CP_REAL_NODE=1 ;;
    *) cp_die "unknown argument ${arg} (usage: up.sh [--real-node])" ;;
  esac
done
real_node="${PGOP_CP_REAL_NODE:-0}"

# ------------------------------------------------------------------ settings
PGOP_CP_ETCD_PORT="${PGOP_CP_ETCD_PORT:-16379}"
PGOP_CP_ETCD_PEER_PORT="${PGOP_CP_ETCD_PEER_PORT:-16380}"
PGOP_CP_APISERVER_PORT="${PGOP_CP_APISERVER_PORT:-16443}"
PGOP_CP_KCM_PORT="${PGOP_CP_KCM_PORT:-16257}"
PGOP_CP_SCHEDULER_PORT="${PGOP_CP_SCHEDULER_PORT:-16259}"
PGOP_CP_KWOK_PORT="${PGOP_CP_KWOK_PORT:-16247}"
PGOP_CP_S3_PORT="${PGOP_CP_S3_PORT:-16900}"
PGOP_CP_S3_BUCKET="${PGOP_CP_S3_BUCKET:-pgop-backups}"
PGOP_CP_SERVICE_CIDR="${PGOP_CP_SERVICE_CIDR:-10.96.0.0/16}"
PGOP_CP_POD_CIDR="${PGOP_CP_POD_CIDR:-10.244.0.0/16}"
if [[ "${real_node}" == "1" ]]; then
  PGOP_CP_NODES="${PGOP_CP_NODES:-0}"
  # Every address, so that pods reach it on the bridge; a guard chain (below) drops what comes
  # from anywhere but loopback and the bridge.
  PGOP_CP_APISERVER_BIND=0.0.0.0
  PGOP_CP_APISERVER_ADVERTISE="${PGOP_NODE_IP}"
  PGOP_CP_ENDPOINT_RECONCILER=lease
else
  PGOP_CP_NODES="${PGOP_CP_NODES:-3}"
fi
# Fake nodes get InternalIP ${PGOP_CP_NODE_IP_PREFIX}<n> (bookkeeping only).
PGOP_CP_NODE_IP_PREFIX="${PGOP_CP_NODE_IP_PREFIX:-10.240.0.}"

for tool in openssl curl ss setsid flock; do
  command -v "${tool}" >/dev/null || cp_die "${tool} is required but not on PATH"
done

# Refuse to start over a running control plane: down.sh first.
if [[ -d "${S}/pids" ]]; then
  for c in "${PGOP_CP_COMPONENTS[@]}"; do
    if cp_running "${c}"; then
      cp_die "${c} from a previous up.sh is still running (state ${S}); run scripts/controlplane/down.sh first"
    fi
  done
fi

# Every port must be free on 127.0.0.1 (and any address) before we start.
for p in "${PGOP_CP_ETCD_PORT}" "${PGOP_CP_ETCD_PEER_PORT}" "${PGOP_CP_APISERVER_PORT}" \
  "${PGOP_CP_KCM_PORT}" "${PGOP_CP_SCHEDULER_PORT}" "${PGOP_CP_KWOK_PORT}" "${PGOP_CP_S3_PORT}"; do
  if [[ -n "$(ss -Hltn "sport = :${p}" 2>/dev/null)" ]]; then
    cp_die "port ${p} is already in use; set the matching PGOP_CP_*_PORT variable (see up.sh header)"
  fi
done

# ------------------------------------------------------------------ binaries
"${here}/build.sh" >/dev/null
export PATH="${PGOP_CP_BIN}:${PATH}"

# ----------------------------------------------------------------- state dir
# A leftover state dir of a stopped control plane is wiped; the marker file
# makes sure we (and down.sh) only ever delete a dir we created.
if [[ -e "${S}" ]]; then
  [[ -f "${S}/.pgop-controlplane" ]] || cp_die "${S} exists and was not made by up.sh; refusing to reuse it"
  rm -rf "${S}"
fi
mkdir -p "${S}"/{pki,logs,pids,etcd,apiserver-certs,kcm-certs,scheduler-certs,s3}
touch "${S}/.pgop-controlplane"
chmod 700 "${S}"

# From here on, a failure stops whatever this run already started (by pid
# file, via down.sh) but keeps the state dir so the logs can be read.
on_exit() {
  local rc=$?
  if ((rc != 0)); then
    cp_log "startup failed; stopping the components started so far (logs kept in ${S}/logs)"
    PGOP_CP_KEEP_STATE=1 "${here}/down.sh" || true
  fi
  exit "${rc}"
}
trap on_exit EXIT

# Everything later scripts need (restart-apiserver.sh, tests) is in $S/env.
cat >"${S}/env" <<EOF
# Written by scripts/controlplane/up.sh; sourced by restart-apiserver.sh / down.sh.
PGOP_CP_BIN='${PGOP_CP_BIN}'
PGOP_CP_ETCD_PORT='${PGOP_CP_ETCD_PORT}'
PGOP_CP_ETCD_PEER_PORT='${PGOP_CP_ETCD_PEER_PORT}'
PGOP_CP_APISERVER_PORT='${PGOP_CP_APISERVER_PORT}'
PGOP_CP_KCM_PORT='${PGOP_CP_KCM_PORT}'
PGOP_CP_SCHEDULER_PORT='${PGOP_CP_SCHEDULER_PORT}'
PGOP_CP_KWOK_PORT='${PGOP_CP_KWOK_PORT}'
PGOP_CP_S3_PORT='${PGOP_CP_S3_PORT}'
PGOP_CP_SERVICE_CIDR='${PGOP_CP_SERVICE_CIDR}'
PGOP_CP_POD_CIDR='${PGOP_CP_POD_CIDR}'
PGOP_CP_VERBOSITY='${PGOP_CP_VERBOSITY:-1}'
PGOP_CP_APISERVER_BIND='${PGOP_CP_APISERVER_BIND:-127.0.0.1}'
PGOP_CP_APISERVER_ADVERTISE='${PGOP_CP_APISERVER_ADVERTISE:-127.0.0.1}'
PGOP_CP_ENDPOINT_RECONCILER='${PGOP_CP_ENDPOINT_RECONCILER:-none}'
PGOP_CP_REAL_NODE='${real_node}'
KUBECONFIG='${S}/kubeconfig'
EOF

# ---------------------------------------------------------------------- PKI
cp_log "generating certificates in ${S}/pki"
pki="${S}/pki"
# First address of the service range: the `kubernetes` Service's ClusterIP.
svc_ip="$(awk -F'[./]' '{printf "%d.%d.%d.%d", $1, $2, $3, $4 + 1}' <<<"${PGOP_CP_SERVICE_CIDR}")"
(
  cd "${pki}"
  umask 077
  openssl_log="${S}/logs/openssl.log"
  {
    # Cluster CA: signs serving and client certs, and (in the controller
    # manager) CSRs.
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -keyout ca.key -out ca.crt -subj "/CN=pgop-controlplane-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"

    # issue NAME SUBJECT EXTFILE-CONTENT: key + cert signed by the CA.
    issue() {
      local name="$1" subj="$2" ext="$3"
      printf '%s\n' "${ext}" >"${name}.ext"
      openssl req -newkey rsa:2048 -nodes -sha256 -keyout "${name}.key" -out "${name}.csr" -subj "${subj}"
      openssl x509 -req -sha256 -days 3650 -in "${name}.csr" -CA ca.crt -CAkey ca.key \
        -CAcreateserial -out "${name}.crt" -extfile "${name}.ext"
      rm -f "${name}.csr" "${name}.ext"
    }
    issue apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:${svc_ip},IP:${PGOP_NODE_IP},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    client_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
    # Admin: member of system:masters (cluster-admin, bypasses RBAC).
    issue admin "/O=system:masters/CN=pgop-admin" "${client_ext}"
    # The controller manager and scheduler use their own RBAC identities, as
    # in a real cluster, so missing permissions show up as they would there.
    issue kube-controller-manager "/CN=system:kube-controller-manager" "${client_ext}"
    issue kube-scheduler "/CN=system:kube-scheduler" "${client_ext}"
    # kube-apiserver -> kubelet (logs, exec, port-forward) on a real node.
    issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "${client_ext}"

    # Front-proxy CA and client (aggregation layer / requestheader auth).
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -keyout front-proxy-ca.key -out front-proxy-ca.crt -subj "/CN=pgop-front-proxy-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout front-proxy-client.key \
      -out front-proxy-client.csr -subj "/CN=front-proxy-client"
    printf '%s\n' "${client_ext}" >front-proxy-client.ext
    openssl x509 -req -sha256 -days 3650 -in front-proxy-client.csr -CA front-proxy-ca.crt \
      -CAkey front-proxy-ca.key -CAcreateserial -out front-proxy-client.crt -extfile front-proxy-client.ext
    rm -f front-proxy-client.csr front-proxy-client.ext

    # Service account token signing key pair.
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
  } >"${openssl_log}" 2>&1 || cp_die "openssl failed" "${openssl_log}"
)

# --------------------------------------------------------------- kubeconfigs
cp_make_kubeconfig "${S}/kubeconfig" admin
cp_make_kubeconfig "${S}/kube-controller-manager.kubeconfig" kube-controller-manager
cp_make_kubeconfig "${S}/kube-scheduler.kubeconfig" kube-scheduler
export KUBECONFIG="${S}/kubeconfig"

# ----------------------------------------------------------------- real node
if [[ "${real_node}" == "1" ]]; then
  # Checks the host (one real node per machine, packages, ports) before anything starts.
  "${here}/node-up.sh" --preflight
  # The API server binds every address; only loopback and the node's bridge may reach it.
  nft list tables 2>/dev/null | sort >"${S}/nft-tables.orig" || true
  iptables -N PGOP-APISERVER-GUARD 2>/dev/null || iptables -F PGOP-APISERVER-GUARD
  iptables -A PGOP-APISERVER-GUARD -i lo -j RETURN
  iptables -A PGOP-APISERVER-GUARD -i "${PGOP_NODE_BRIDGE}" -j RETURN
  iptables -A PGOP-APISERVER-GUARD -j DROP
  iptables -I INPUT 1 -p tcp --dport "${PGOP_CP_APISERVER_PORT}" -m comment --comment pgop-apiserver-guard -j PGOP-APISERVER-GUARD
  # The object store listens on the bridge address too: the same guard.
  iptables -I INPUT 1 -p tcp --dport "${PGOP_CP_S3_PORT}" -m comment --comment pgop-s3-guard -j PGOP-APISERVER-GUARD
  touch "${S}/apiserver-guard"
fi

# ---------------------------------------------------------------------- etcd
cp_spawn etcd "${PGOP_CP_BIN}/etcd" \
  --name=pgop \
  --data-dir="${S}/etcd" \
  --listen-client-urls="http://127.0.0.1:${PGOP_CP_ETCD_PORT}" \
  --advertise-client-urls="http://127.0.0.1:${PGOP_CP_ETCD_PORT}" \
  --listen-peer-urls="http://127.0.0.1:${PGOP_CP_ETCD_PEER_PORT}" \
  --initial-advertise-peer-urls="http://127.0.0.1:${PGOP_CP_ETCD_PEER_PORT}" \
  --initial-cluster="pgop=http://127.0.0.1:${PGOP_CP_ETCD_PEER_PORT}" \
  --unsafe-no-fsync=true \
  --log-level=warn
etcd_healthy() { curl -fsS --max-time 3 "http://127.0.0.1:${PGOP_CP_ETCD_PORT}/health" | grep -q '"health":"true"'; }
cp_wait_until etcd "etcd health on 127.0.0.1:${PGOP_CP_ETCD_PORT}" etcd_healthy
cp_log "etcd ready"

# ------------------------------------------------------------ kube-apiserver
cp_start_apiserver
cp_wait_apiserver

# ------------------------------------------- controller manager + scheduler
cp_spawn kube-controller-manager "${PGOP_CP_BIN}/kube-controller-manager" \
  --kubeconfig="${S}/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig="${S}/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig="${S}/kube-controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 \
  --secure-port="${PGOP_CP_KCM_PORT}" \
  --cert-dir="${S}/kcm-certs" \
  --controllers='*' \
  --use-service-account-credentials=true \
  --service-account-private-key-file="${pki}/sa.key" \
  --root-ca-file="${pki}/ca.crt" \
  --cluster-signing-cert-file="${pki}/ca.crt" \
  --cluster-signing-key-file="${pki}/ca.key" \
  --service-cluster-ip-range="${PGOP_CP_SERVICE_CIDR}" \
  --leader-elect=false \
  --profiling=false \
  --kube-api-qps="${PGOP_CP_KCM_QPS:-20}" \
  --kube-api-burst="${PGOP_CP_KCM_BURST:-30}" \
  --v="${PGOP_CP_VERBOSITY:-1}"

cp_spawn kube-scheduler "${PGOP_CP_BIN}/kube-scheduler" \
  --kubeconfig="${S}/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig="${S}/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig="${S}/kube-scheduler.kubeconfig" \
  --bind-address=127.0.0.1 \
  --secure-port="${PGOP_CP_SCHEDULER_PORT}" \
  --cert-dir="${S}/scheduler-certs" \
  --leader-elect=false \
  --profiling=false \
  --v="${PGOP_CP_VERBOSITY:-1}"

# /healthz is always allowed without credentials on both (their default
# --authorization-always-allow-paths).
https_ok() { [[ "$(curl -ksS --max-time 3 "https://127.0.0.1:$1/healthz")" == "ok" ]]; }
cp_wait_until kube-controller-manager "kube-controller-manager /healthz on 127.0.0.1:${PGOP_CP_KCM_PORT}" https_ok "${PGOP_CP_KCM_PORT}"
cp_log "kube-controller-manager ready"
cp_wait_until kube-scheduler "kube-scheduler /healthz on 127.0.0.1:${PGOP_CP_SCHEDULER_PORT}" https_ok "${PGOP_CP_SCHEDULER_PORT}"
cp_log "kube-scheduler ready"

# ---------------------------------------------------------------------- kwok
# With a real node, kwok's nodes carry a NoSchedule taint and its volume stages
# act on StorageClass `kwok` (not the default), so nothing lands there by chance.
kwok_stages="${PGOP_CP_BUILD_DIR}/kwok-stages.yaml"
kwok_class=standard
kwok_default=true
kwok_node_spec="{}"
if [[ "${real_node}" == "1" ]]; then
  kwok_stages="${S}/kwok-stages.yaml"
  sed "s/'standard'/'kwok'/g" "${PGOP_CP_BUILD_DIR}/kwok-stages.yaml" >"${kwok_stages}"
  kwok_class=kwok
  kwok_default=false
  kwok_node_spec="{taints: [{key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule}]}"
fi
if ((PGOP_CP_NODES > 0)); then
# The stages file (made by build.sh from the pinned kwok release) drives fake
# node heartbeats, pod readiness/completion/deletion and volume provisioning.
# Only nodes annotated kwok.x-k8s.io/node=fake are managed.
cp_spawn kwok "${PGOP_CP_BIN}/kwok" \
  --kubeconfig="${S}/kubeconfig" \
  --config="${kwok_stages}" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-lease-duration-seconds=40 \
  --cidr="${PGOP_CP_POD_CIDR}" \
  --server-address="127.0.0.1:${PGOP_CP_KWOK_PORT}"
kwok_ok() { curl -fsS --max-time 3 "http://127.0.0.1:${PGOP_CP_KWOK_PORT}/healthz" >/dev/null; }
cp_wait_until kwok "kwok /healthz on 127.0.0.1:${PGOP_CP_KWOK_PORT}" kwok_ok
cp_log "kwok ready"

# ------------------------------------------------------------ cluster objects
cluster_log="${S}/logs/cluster-setup.log"
kc() { kubectl --request-timeout=20s "$@" >>"${cluster_log}" 2>&1 || cp_die "kubectl $* failed" "${cluster_log}"; }

# Fake nodes. Status given at create time is kept; kwok then adds conditions
# (Ready), addresses and keeps the node lease fresh. Spread over 3 zones so
# anti-affinity / topology spread can be exercised.
nodes_yaml=""
for i in $(seq 1 "${PGOP_CP_NODES}"); do
  zone="zone-$(( (i - 1) % 3 ))"
  nodes_yaml+="---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-${i}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: \"0\"
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-node-${i}
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/zone: ${zone}
spec: ${kwok_node_spec}
status:
  addresses:
  - {type: InternalIP, address: ${PGOP_CP_NODE_IP_PREFIX}${i}}
  - {type: Hostname, address: kwok-node-${i}}
  allocatable: {cpu: \"32\", memory: 128Gi, pods: \"${PGOP_CP_NODE_PODS:-110}\", ephemeral-storage: 500Gi}
  capacity: {cpu: \"32\", memory: 128Gi, pods: \"${PGOP_CP_NODE_PODS:-110}\", ephemeral-storage: 500Gi}
"
done

# Default StorageClass `standard`; kwok's volume stages (renamed to this class
# by build.sh) create a PV for each PVC, bind it, and delete the PV once the
# PVC is gone (reclaimPolicy Delete), like a real dynamic provisioner.
sc_yaml="apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: ${kwok_class}
  annotations:
    storageclass.kubernetes.io/is-default-class: \"${kwok_default}\"
provisioner: kwok.x-k8s.io/volume
reclaimPolicy: Delete
volumeBindingMode: Immediate
allowVolumeExpansion: true
"
printf '%s' "${nodes_yaml}" >"${S}/nodes.yaml"
printf '%s' "${sc_yaml}" >"${S}/storageclass.yaml"
kc apply -f "${S}/nodes.yaml"
kc apply -f "${S}/storageclass.yaml"

nodes_ready() {
  local out
  out="$(kubectl get nodes -l type=kwok \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}')" || return 1
  [[ "$(grep -c '^True$' <<<"${out}")" -eq "${PGOP_CP_NODES}" ]]
}
cp_wait_until kwok "${PGOP_CP_NODES} fake nodes Ready" nodes_ready
cp_log "${PGOP_CP_NODES} kwok nodes Ready"
fi

# The ServiceAccount admission plugin rejects pods until the namespace's
# `default` ServiceAccount exists; wait for the controller to make it.
cp_wait_until kube-controller-manager "ServiceAccount default/default" \
  kubectl get serviceaccount default -n default

if [[ "${real_node}" == "1" ]]; then
  "${here}/node-up.sh"
fi

# ------------------------------------------------------------- object store
# versitygw with its POSIX backend: a bucket is a directory under $S/s3 (ownership and ACL in
# xattrs). Root credentials are made here and given in the environment, never on the command
# line. With a real node it also listens on the bridge address (after node-up.sh made it), where
# pods reach it; the guard chain above admits only loopback and the bridge there.
s3_access="pgop-$(openssl rand -hex 8)"
s3_secret="$(openssl rand -hex 20)"
cp_start_s3 "${s3_access}" "${s3_secret}" "${real_node}"
# CreateBucket, signed (SigV4) by curl. The payload hash is that of an empty body.
s3_log="$(cp_logfile s3-setup)"
curl -fsS --max-time 10 --aws-sigv4 "aws:amz:us-east-1:s3" --user "${s3_access}:${s3_secret}" \
  -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
  -X PUT "http://127.0.0.1:${PGOP_CP_S3_PORT}/${PGOP_CP_S3_BUCKET}" >"${s3_log}" 2>&1 ||
  cp_die "could not create bucket ${PGOP_CP_S3_BUCKET} in versitygw" "${s3_log}"
(
  umask 077
  {
    echo "# Written by scripts/controlplane/up.sh: the S3-compatible object store (versitygw) and its root credentials."
    echo "PGOP_S3_ENDPOINT='http://127.0.0.1:${PGOP_CP_S3_PORT}'"
    [[ "${real_node}" == "1" ]] && echo "PGOP_S3_POD_ENDPOINT='http://${PGOP_NODE_IP}:${PGOP_CP_S3_PORT}'"
    echo "PGOP_S3_REGION='us-east-1'"
    echo "PGOP_S3_BUCKET='${PGOP_CP_S3_BUCKET}'"
    echo "PGOP_S3_ACCESS_KEY_ID='${s3_access}'"
    echo "PGOP_S3_SECRET_ACCESS_KEY='${s3_secret}'"
  } >"${S}/s3.env"
)
cp_log "versitygw ready on http://127.0.0.1:${PGOP_CP_S3_PORT}$([[ "${real_node}" == "1" ]] && echo " and http://${PGOP_NODE_IP}:${PGOP_CP_S3_PORT}"), bucket ${PGOP_CP_S3_BUCKET} (credentials in ${S}/s3.env)"

cp_log "control plane up in $((SECONDS - start_time))s (state ${S}$([[ "${real_node}" == "1" ]] && echo ", real node ${PGOP_NODE_NAME}"))"
echo "export KUBECONFIG=${S}/kubeconfig"
echo "export PATH=${PGOP_CP_BIN}:\$PATH"
