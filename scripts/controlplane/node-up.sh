#!/usr/bin/env bash
# Join a real node to the control plane that up.sh started (up.sh --real-node
# calls this; it is not meant to be run on its own): containerd with its own
# config and socket, a CNI bridge, the kubelet (cgroup v1), kube-proxy
# (iptables), CoreDNS for cluster.local, the images built here, and a default
# StorageClass `standard` with the project's own local-volume provisioner.
#
# Everything it changes on the host is recorded first (sysctls, iptables and
# nft tables, host paths), so node-down.sh puts the machine back as it was.
# One real node per machine: a lock names the state dir that owns it.
#
# Usage: node-up.sh [--preflight]   (--preflight: only check the host, change nothing)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "${here}/lib.sh"

S="${PGOP_CONTROLPLANE_STATE}"
N="${S}/node"
start_time=${SECONDS}

# ------------------------------------------------------------------ preflight
# Debian packages the node needs, installed when missing (apt-get, as root).
# xfsprogs: the volumes are XFS where ext4 cannot grow online (root without CAP_SYS_RESOURCE).
node_packages=(containerd runc containernetworking-plugins iptables conntrack socat nftables xfsprogs)
ensure_packages() {
  local missing=() p
  for p in "${node_packages[@]}"; do
    dpkg-query -W -f='${Status}' "${p}" 2>/dev/null | grep -q "install ok installed" || missing+=("${p}")
  done
  ((${#missing[@]} == 0)) && return 0
  command -v apt-get >/dev/null || cp_die "missing packages (${missing[*]}) and no apt-get to install them"
  cp_log "installing ${missing[*]} (apt-get)"
  local log="${TMPDIR:-/tmp}/pgop-node-apt.log"
  # Debian's containerd service must never start: policy-rc.d refuses it.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    local policy_added=1
  fi
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"${log}" 2>&1 \
    || cp_die "apt-get install ${missing[*]} failed" "${log}"
  [[ "${policy_added:-0}" == "1" ]] && rm -f /usr/sbin/policy-rc.d
  return 0
}

preflight() {
  [[ "$(id -u)" == "0" ]] || cp_die "a real node needs root (bridge, iptables, cgroups, mounts)"
  [[ -d /sys/fs/cgroup/memory && -d /sys/fs/cgroup/cpu ]] || cp_die "a real node needs cgroup v1 hierarchies under /sys/fs/cgroup"
  ensure_packages
  [[ -x "${PGOP_CP_BIN}/kubelet" && -x "${PGOP_CP_BIN}/kube-proxy" && -x "${PGOP_COREDNS_BIN}" ]] \
    || cp_die "kubelet, kube-proxy or coredns not built (run scripts/controlplane/build.sh)"
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] \
    || cp_die "CNI plugins missing in /usr/lib/cni (package containernetworking-plugins)"
  # One real node per machine.
  if [[ -f "${PGOP_NODE_OWNER}" ]]; then
    local owner
    owner="$(<"${PGOP_NODE_OWNER}")"
    if [[ "${owner}" != "${S}" && -d "${owner}/node" ]]; then
      cp_die "a real node is already up for ${owner}; stop it first (PGOP_CONTROLPLANE_STATE=${owner} scripts/controlplane/down.sh)"
    fi
  fi
  if ip link show "${PGOP_NODE_BRIDGE}" >/dev/null 2>&1; then
    cp_die "the bridge ${PGOP_NODE_BRIDGE} already exists (a real node left over? run down.sh for its state dir, or 'ip link del ${PGOP_NODE_BRIDGE}')"
  fi
  local p
  for p in "${PGOP_NODE_KUBELET_PORT}" "${PGOP_NODE_KUBELET_HEALTHZ_PORT}" "${PGOP_NODE_PROXY_HEALTHZ_PORT}" \
    "${PGOP_NODE_PROXY_METRICS_PORT}" "${PGOP_NODE_DNS_HEALTH_PORT}"; do
    if [[ -n "$(ss -Hltn "sport = :${p}" 2>/dev/null)" ]]; then
      cp_die "port ${p} is already in use; set the matching PGOP_NODE_*_PORT variable (see lib.sh)"
    fi
  done
}

if [[ "${1:-}" == "--preflight" ]]; then
  preflight
  exit 0
fi
[[ -f "${S}/.pgop-controlplane" ]] || cp_die "no control plane in ${S} (node-up.sh is run by up.sh --real-node)"
cp_load_state
export PATH="${PGOP_CP_BIN}:${PATH}"
export KUBECONFIG="${S}/kubeconfig"

mkdir -p "$(dirname "${PGOP_NODE_LOCK}")" "$(dirname "${PGOP_NODE_OWNER}")"
exec 8>"${PGOP_NODE_LOCK}"
flock -w 60 8 || cp_die "another real node is being brought up or down (lock ${PGOP_NODE_LOCK})"
preflight
echo "${S}" >"${PGOP_NODE_OWNER}"

mkdir -p "${N}"/{baseline,conf,containerd,cni/net.d,cni/ipam,kubelet,pod-logs,volumes}
chmod 700 "${N}"

# ------------------------------------------------------------------ baseline
# What node-down.sh restores: every sysctl, the iptables and nft tables, and which host paths
# existed. (containerd, the kubelet and the CNI plugins write to /run/netns, /run/containerd and
# /var/lib/cni whatever their config says.)
sysctl -a 2>/dev/null | sort >"${N}/baseline/sysctl"
iptables-save >"${N}/baseline/iptables" 2>/dev/null || true
ip6tables-save >"${N}/baseline/ip6tables" 2>/dev/null || true
nft list tables 2>/dev/null | sort >"${N}/baseline/nft-tables" || true
: >"${N}/baseline/absent-paths"
for p in /run/netns /run/containerd /var/lib/cni /var/lib/kubelet /etc/cni; do
  [[ -e "${p}" ]] || echo "${p}" >>"${N}/baseline/absent-paths"
done

# ---------------------------------------------------------------------- bridge
# The bridge comes first: its address is the node IP (the kubelet refuses a loopback node IP).
ip link add "${PGOP_NODE_BRIDGE}" type bridge
ip addr add "${PGOP_NODE_IP}/${PGOP_NODE_SUBNET#*/}" dev "${PGOP_NODE_BRIDGE}"
ip link set "${PGOP_NODE_BRIDGE}" up
# Pod traffic never leaves this machine: no masquerade anywhere, and anything from the pod subnet
# to an address outside it is dropped when forwarded. (kube-proxy's DNAT to a pod happens before
# FORWARD, so pod -> ClusterIP -> pod still works.)
iptables -I FORWARD 1 -s "${PGOP_NODE_SUBNET}" ! -d "${PGOP_NODE_SUBNET}" -m comment --comment pgop-node-guard -j DROP
touch "${N}/guard"

# ---------------------------------------------------------------------- cgroups
# The kubelet's cgroupRoot must exist in every v1 hierarchy; cpuset needs cpus and mems first.
for h in /sys/fs/cgroup/*/; do
  [[ "${h}" == */unified/ || ! -d "${h}" ]] && continue
  [[ -e "${h}tasks" ]] || continue
  mkdir -p "${h}${PGOP_NODE_CGROUP_ROOT}"
done
if [[ -d /sys/fs/cgroup/cpuset ]]; then
  cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/${PGOP_NODE_CGROUP_ROOT}/cpuset.cpus"
  cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/${PGOP_NODE_CGROUP_ROOT}/cpuset.mems"
fi

# ---------------------------------------------------------------------- certs
pki="${S}/pki"
node_issue() {
  local name="$1" subj="$2"
  (
    cd "${pki}"
    umask 077
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"${name}.ext"
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout "${name}.key" -out "${name}.csr" -subj "${subj}"
    openssl x509 -req -sha256 -days 3650 -in "${name}.csr" -CA ca.crt -CAkey ca.key \
      -CAcreateserial -out "${name}.crt" -extfile "${name}.ext"
    rm -f "${name}.csr" "${name}.ext"
  ) >>"${S}/logs/openssl.log" 2>&1 || cp_die "openssl failed" "${S}/logs/openssl.log"
}
# The Node authorizer admits the kubelet by this name and group; kube-proxy is bound by the
# default ClusterRoleBinding system:node-proxier; CoreDNS gets a read-only role of its own below.
node_issue kubelet "/O=system:nodes/CN=system:node:${PGOP_NODE_NAME}"
node_issue kube-proxy "/CN=system:kube-proxy"
node_issue coredns "/CN=pgop:coredns"
cp_make_kubeconfig "${N}/conf/kubelet.kubeconfig" kubelet
cp_make_kubeconfig "${N}/conf/kube-proxy.kubeconfig" kube-proxy
cp_make_kubeconfig "${N}/conf/coredns.kubeconfig" coredns

# ------------------------------------------------------------------ containerd
sock="${N}/containerd/containerd.sock"
cat >"${N}/conf/containerd.toml" <<EOF
version = 2
root = "${N}/containerd/root"
state = "${N}/containerd/state"
[grpc]
  address = "${sock}"
[debug]
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = "${N}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  max_container_log_line_size = 16384
  # Root here may lack CAP_SYS_RESOURCE, so it cannot lower oom_score_adj as CRI asks for
  # every sandbox; clamp to containerd's own score instead of failing every pod.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${N}/cni/net.d"
    max_conf_num = 1
EOF
cat >"${N}/cni/net.d/10-pgop.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "pgop-realnode",
  "plugins": [
    {
      "type": "bridge", "bridge": "${PGOP_NODE_BRIDGE}", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "${N}/cni/ipam",
        "ranges": [[{"subnet": "${PGOP_NODE_SUBNET}", "gateway": "${PGOP_NODE_IP}"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
cp_spawn containerd containerd --config "${N}/conf/containerd.toml"
cp_wait_until containerd "containerd on ${sock}" ctr -a "${sock}" version
cp_log "containerd ready"

# ---------------------------------------------------------------------- images
# pause and postgres:<major> (and the operator's image), built here and cached; nothing is pulled.
images_started=${SECONDS}
images_out="$("${here}/../images/build.sh")" || cp_die "the images did not build (scripts/images/build.sh)"
while IFS= read -r archive; do
  [[ -z "${archive}" ]] && continue
  ctr -a "${sock}" -n k8s.io images import --no-unpack=false "${archive}" >>"$(cp_logfile containerd)" 2>&1 \
    || cp_die "ctr could not import ${archive}" "$(cp_logfile containerd)"
done <<<"${images_out}"
cp_log "images imported in $((SECONDS - images_started))s: $(ctr -a "${sock}" -n k8s.io images ls -q | grep -v '^sha256:' | tr '\n' ' ')"

# ---------------------------------------------------------------------- CoreDNS
# Serves cluster.local only, on the bridge address: no other zone and no forwarding, so no query
# ever leaves this machine.
cat >"${N}/conf/coredns-rbac.yaml" <<'EOF'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "pgop:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "pgop:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "pgop:coredns"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "pgop:coredns"}
EOF
kubectl apply -f "${N}/conf/coredns-rbac.yaml" >>"$(cp_logfile node-setup)" 2>&1 \
  || cp_die "could not create CoreDNS's RBAC" "$(cp_logfile node-setup)"
cat >"${N}/conf/Corefile" <<EOF
cluster.local:53 {
    bind ${PGOP_NODE_IP}
    errors
    health 127.0.0.1:${PGOP_NODE_DNS_HEALTH_PORT}
    kubernetes cluster.local {
        kubeconfig ${N}/conf/coredns.kubeconfig
    }
    cache 5
}
EOF
cp_spawn coredns "${PGOP_COREDNS_BIN}" -conf "${N}/conf/Corefile"
dns_ok() { curl -fsS --max-time 2 "http://127.0.0.1:${PGOP_NODE_DNS_HEALTH_PORT}/health" >/dev/null; }
cp_wait_until coredns "CoreDNS health on 127.0.0.1:${PGOP_NODE_DNS_HEALTH_PORT}" dns_ok
cp_log "CoreDNS ready on ${PGOP_NODE_IP}:53"

# ---------------------------------------------------------------------- kubelet
cat >"${N}/conf/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# Kubernetes 1.35 refuses cgroup v1 unless told otherwise (it warns with a CgroupV1 event).
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /${PGOP_NODE_CGROUP_ROOT}
containerRuntimeEndpoint: unix://${sock}
imageServiceEndpoint: unix://${sock}
address: ${PGOP_NODE_IP}
port: ${PGOP_NODE_KUBELET_PORT}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${PGOP_NODE_KUBELET_HEALTHZ_PORT}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${pki}/ca.crt}
authorization:
  mode: Webhook
podLogsDir: ${N}/pod-logs
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: [${PGOP_NODE_IP}]
# Never hand the host's resolver to pods.
resolvConf: ""
maxPods: 60
serializeImagePulls: false
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
# Images are imported, never pulled: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
nodeStatusReportFrequency: 10s
syncFrequency: 10s
fileCheckFrequency: 10s
EOF
cp_spawn kubelet "${PGOP_CP_BIN}/kubelet" \
  --config="${N}/conf/kubelet.yaml" \
  --kubeconfig="${N}/conf/kubelet.kubeconfig" \
  --root-dir="${N}/kubelet" \
  --cert-dir="${N}/kubelet/pki" \
  --hostname-override="${PGOP_NODE_NAME}" \
  --node-ip="${PGOP_NODE_IP}" \
  --node-labels="pgop.local/real-node=true,topology.kubernetes.io/zone=zone-0" \
  --v=1
node_ready() {
  [[ "$(kubectl get node "${PGOP_NODE_NAME}" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == "True" ]]
}
cp_wait_until kubelet "node ${PGOP_NODE_NAME} Ready" node_ready
cp_log "node ${PGOP_NODE_NAME} Ready"

# ------------------------------------------------------------------ kube-proxy
cat >"${N}/conf/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: ${N}/conf/kube-proxy.kubeconfig}
hostnameOverride: ${PGOP_NODE_NAME}
clusterCIDR: ${PGOP_NODE_SUBNET}
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:${PGOP_NODE_PROXY_HEALTHZ_PORT}
metricsBindAddress: 127.0.0.1:${PGOP_NODE_PROXY_METRICS_PORT}
# Leave the conntrack sysctls alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
# Otherwise it sets net.ipv4.conf.all.route_localnet=1.
iptables: {localhostNodePorts: false}
nodePortAddresses: ["${PGOP_NODE_IP}/32"]
EOF
cp_spawn kube-proxy "${PGOP_CP_BIN}/kube-proxy" --config="${N}/conf/kube-proxy.yaml" --v=1
proxy_ok() { curl -fsS --max-time 2 "http://127.0.0.1:${PGOP_NODE_PROXY_HEALTHZ_PORT}/healthz" >/dev/null; }
cp_wait_until kube-proxy "kube-proxy healthz on 127.0.0.1:${PGOP_NODE_PROXY_HEALTHZ_PORT}" proxy_ok
cp_log "kube-proxy ready"

# --------------------------------------------------------------------- storage
# The default StorageClass, WaitForFirstConsumer so a volume is made on the node the pod landed
# on; the project's provisioner (provisioner.sh) makes a volume of the claim's size and a local PV
# per claim under ${N}/volumes, and grows it when the claim asks for more. Expansion is allowed
# only when its volumes can grow here (loop devices, and XFS or ext4 with CAP_SYS_RESOURCE): with
# plain directories the API server refuses a larger request up front.
volume_probe="$(bash "${here}/provisioner.sh" --probe "${N}/volumes")"
volume_expansion=false
case "${volume_probe%% *}" in xfs | ext4) volume_expansion=true ;; esac
cp_log "volumes: ${volume_probe%% *} (${volume_probe#* }); expansion allowed: ${volume_expansion}"
cat >"${N}/conf/storageclass.yaml" <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: pgop.local/local-dir
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: ${volume_expansion}
EOF
kubectl apply -f "${N}/conf/storageclass.yaml" >>"$(cp_logfile node-setup)" 2>&1 \
  || cp_die "could not create the StorageClass" "$(cp_logfile node-setup)"
cp_spawn provisioner bash "${here}/provisioner.sh" "${N}/volumes" standard pgop.local/local-dir
sleep 0.5
cp_running provisioner || cp_die "the provisioner exited at once" "$(cp_logfile provisioner)"

# The `kubernetes` Service must lead to the API server from pods.
api_endpoint_ok() {
  [[ "$(kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes \
    -o jsonpath='{.items[0].endpoints[0].addresses[0]}' 2>/dev/null)" == "${PGOP_NODE_IP}" ]]
}
cp_wait_until kube-apiserver "the kubernetes Service's endpoint ${PGOP_NODE_IP}" api_endpoint_ok

cp_log "real node ${PGOP_NODE_NAME} up in $((SECONDS - start_time))s (bridge ${PGOP_NODE_BRIDGE} ${PGOP_NODE_IP}, pods ${PGOP_NODE_SUBNET})"
