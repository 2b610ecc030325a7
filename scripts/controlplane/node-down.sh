#!/usr/bin/env bash
# Stop the real node that node-up.sh joined and put the machine back as it
# was: pods deleted through the API (so the kubelet unmounts their volumes and
# the CNI plugin releases their addresses), the node's processes stopped by
# pid (and the containerd shims that outlive containerd), mounts under the
# state dir and /run/netns undone, the bridge removed, the iptables chains and
# nft tables it made removed, its cgroups removed, every sysctl it changed
# restored, and the host paths that did not exist before removed. down.sh runs
# this first; it is safe to run twice and after a failed node-up.sh.
#
# Usage: node-down.sh
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "${here}/lib.sh"

S="${PGOP_CONTROLPLANE_STATE}"
N="${S}/node"
[[ -d "${N}" ]] || exit 0
start_time=${SECONDS}
[[ -f "${S}/env" ]] && cp_load_state
export PATH="${PGOP_CP_BIN}:${PATH}"
export KUBECONFIG="${S}/kubeconfig"
sock="${N}/containerd/containerd.sock"

mkdir -p "$(dirname "${PGOP_NODE_LOCK}")"
exec 8>"${PGOP_NODE_LOCK}"
flock -w 120 8 || cp_log "WARNING: could not take ${PGOP_NODE_LOCK}; going on"

# ------------------------------------------------------------- pods, then node
# While the API server and the kubelet still run, delete the node's pods: the kubelet stops their
# containers, unmounts their volumes and lets the CNI plugin release their addresses.
if cp_running kube-apiserver && cp_running kubelet; then
  kubectl --request-timeout=10s cordon "${PGOP_NODE_NAME}" >/dev/null 2>&1 || true
  kubectl --request-timeout=20s delete pods -A --field-selector "spec.nodeName=${PGOP_NODE_NAME}" \
    --grace-period=5 --wait=false >/dev/null 2>&1 || true
  deadline=$((SECONDS + 40))
  while ((SECONDS < deadline)); do
    left="$(kubectl --request-timeout=10s get pods -A --field-selector "spec.nodeName=${PGOP_NODE_NAME}" -o name 2>/dev/null | wc -l)"
    ((left == 0)) && break
    sleep 1
  done
  kubectl --request-timeout=10s delete node "${PGOP_NODE_NAME}" --wait=false >/dev/null 2>&1 || true
fi

# ------------------------------------------------------------------- processes
stop_node_component() {
  local name="$1" pid
  cp_running "${name}" || { rm -f "$(cp_pidfile "${name}")"; return 0; }
  pid="$(<"$(cp_pidfile "${name}")")"
  cp_log "stopping ${name} (pid ${pid})"
  cp_stop_pid "${name}" "${pid}" "${PGOP_CP_STOP_TIMEOUT:-20}" || cp_log "ERROR: ${name} (pid ${pid}) did not exit"
  rm -f "$(cp_pidfile "${name}")"
}
stop_node_component provisioner
stop_node_component kube-proxy
# kube-proxy's own cleanup removes its KUBE-* chains (iptables and nft).
if [[ -x "${PGOP_CP_BIN}/kube-proxy" ]]; then
  "${PGOP_CP_BIN}/kube-proxy" --cleanup >>"$(cp_logfile kube-proxy)" 2>&1 || true
fi
stop_node_component kubelet
stop_node_component coredns
# Containers the kubelet left behind, then containerd; its shims outlive it by design.
if cp_running containerd; then
  for id in $(ctr -a "${sock}" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr -a "${sock}" -n k8s.io tasks kill -s SIGKILL "${id}" >/dev/null 2>&1 || true
  done
  sleep 0.5
  for id in $(ctr -a "${sock}" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr -a "${sock}" -n k8s.io tasks delete -f "${id}" >/dev/null 2>&1 || true
  done
  for id in $(ctr -a "${sock}" -n k8s.io containers ls -q 2>/dev/null); do
    ctr -a "${sock}" -n k8s.io containers delete "${id}" >/dev/null 2>&1 || true
  done
fi
stop_node_component containerd
for pid in $(pgrep -f containerd-shim 2>/dev/null); do
  if tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -qF -- "${sock}"; then
    cp_stop_pid containerd-shim "${pid}" 5 || cp_log "ERROR: containerd-shim (pid ${pid}) did not exit"
  fi
done
# Any process still running in the node's cgroups (a container whose shim is gone).
for tasks in /sys/fs/cgroup/*/"${PGOP_NODE_CGROUP_ROOT}"; do
  [[ -d "${tasks}" ]] || continue
  while IFS= read -r pid; do
    kill -KILL "${pid}" 2>/dev/null || true
  done < <(find "${tasks}" -name tasks -exec cat {} + 2>/dev/null | sort -u)
done

# ---------------------------------------------------------------------- mounts
# Deepest first: the kubelet makes its root dir a shared bind mount of itself, and there are
# projected volumes (tmpfs), local-PV bind mounts and overlay rootfs mounts below it.
unmount_under() {
  local prefix="$1" m
  for _ in 1 2 3; do
    mapfile -t mounts < <(awk -v p="${prefix}" '$5 == p || index($5, p "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)
    ((${#mounts[@]} == 0)) && return 0
    for m in "${mounts[@]}"; do
      umount "${m}" 2>/dev/null || umount -l "${m}" 2>/dev/null || true
    done
  done
}
unmount_under "${N}"
# The volumes' loop devices (backing files under ${N}/volumes only), even when the provisioner
# died: unmounting does not detach them.
bash "${here}/provisioner.sh" --cleanup "${N}/volumes"
for ns in /run/netns/cni-*; do
  [[ -e "${ns}" ]] || continue
  umount "${ns}" 2>/dev/null || true
  rm -f "${ns}"
done

# ---------------------------------------------------------------------- network
ip link del "${PGOP_NODE_BRIDGE}" 2>/dev/null || true
# Leftover veths of pods whose sandboxes were not torn down.
for link in $(ip -o link show type veth 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
  [[ -n "$(ip -o link show "${link}" 2>/dev/null | grep "master ${PGOP_NODE_BRIDGE}")" ]] && ip link del "${link}" 2>/dev/null
done
while iptables -D FORWARD -s "${PGOP_NODE_SUBNET}" ! -d "${PGOP_NODE_SUBNET}" -m comment --comment pgop-node-guard -j DROP 2>/dev/null; do :; done
# Every chain the kubelet, kube-proxy and the CNI plugins made (KUBE-*, CNI-*), and every rule
# that jumps to one, in every table of iptables and ip6tables.
for tool in iptables ip6tables; do
  for table in filter nat mangle raw; do
    saved="$("${tool}-save" -t "${table}" 2>/dev/null)" || continue
    grep -qE '(KUBE-|CNI-)' <<<"${saved}" || continue
    grep -vE '^:(KUBE-|CNI-)|^-A (KUBE-|CNI-)|-j (KUBE-|CNI-)|--comment "?(kubernetes|CNI)' <<<"${saved}" \
      | "${tool}-restore" -T "${table}" 2>/dev/null || cp_log "WARNING: could not clean ${tool} table ${table}"
  done
done
# nft tables that did not exist before and are empty now (iptables-nft made them).
cp_nft_cleanup "${N}/baseline/nft-tables"

# ---------------------------------------------------------------------- cgroups
for h in /sys/fs/cgroup/*/"${PGOP_NODE_CGROUP_ROOT}"; do
  [[ -d "${h}" ]] || continue
  find "${h}" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  [[ -d "${h}" ]] && cp_log "WARNING: could not remove cgroup ${h}"
done

# ---------------------------------------------------------------------- sysctls
# The kubelet sets vm.overcommit_memory, kernel.panic, kernel.panic_on_oops and the keyring
# limits; the CNI bridge sets net.ipv4.ip_forward. Put back every value that changed (counters and
# read-only keys excepted).
if [[ -f "${N}/baseline/sysctl" ]]; then
  while IFS= read -r line; do
    key="${line%% = *}"
    case "${key}" in
      kernel.random.* | kernel.ns_last_pid | kernel.tainted | fs.*-nr | fs.*-state | *.stable_secret | \
        net.netfilter.nf_conntrack_count | kernel.pty.nr | fs.quota.* | kernel.core_uses_pid) continue ;;
    esac
    sysctl -q -w "${key}=${line#* = }" >/dev/null 2>&1 || true
  done < <(comm -23 "${N}/baseline/sysctl" <(sysctl -a 2>/dev/null | sort))
fi

# -------------------------------------------------------------------- host paths
if [[ -f "${N}/baseline/absent-paths" ]]; then
  while IFS= read -r p; do
    [[ -e "${p}" ]] || continue
    unmount_under "${p}"
    rm -rf -- "${p}"
  done <"${N}/baseline/absent-paths"
fi

if [[ -f "${PGOP_NODE_OWNER}" && "$(<"${PGOP_NODE_OWNER}")" == "${S}" ]]; then
  rm -f "${PGOP_NODE_OWNER}"
fi
unmount_under "${N}"
bash "${here}/provisioner.sh" --cleanup "${N}/volumes"
rm -rf -- "${N}" 2>/dev/null || cp_log "WARNING: could not remove ${N} (something is still mounted there)"
cp_log "real node ${PGOP_NODE_NAME} down in $((SECONDS - start_time))s"
