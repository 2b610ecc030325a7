#!/usr/bin/env bash
# The real node's volume provisioner: a local directory per claim. Every second,
# for each PersistentVolumeClaim of StorageClass CLASS that is Pending, unbound
# and scheduled (the scheduler annotated its selected node: the class is
# WaitForFirstConsumer), it makes DIR/pvc-<uid> and a `local` PersistentVolume
# pinned to that node and bound to the claim; when a volume of ours is Released
# (its claim deleted, reclaim policy Delete), it removes the directory and then
# the PersistentVolume. It touches no directory it did not make.
#
# Usage: provisioner.sh DIR CLASS PROVISIONER-NAME   (kubectl and KUBECONFIG from the environment)
set -uo pipefail

dir="$1" class="$2" provisioner="$3"
mkdir -p "${dir}"
log() { printf '%s provisioner: %s\n' "$(date -u +%FT%TZ)" "$*"; }
kc() { kubectl --request-timeout=10s "$@"; }

provision() {
  local ns="$1" name="$2" uid="$3" size="$4" mode="$5" node="$6"
  local path="${dir}/pvc-${uid}"
  mkdir -p "${path}"
  if kc create -f - >/dev/null 2>&1 <<YAML; then
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pvc-${uid}
  annotations: {pv.kubernetes.io/provisioned-by: "${provisioner}"}
  labels: {pgop.local/provisioned-by: local-dir}
spec:
  capacity: {storage: "${size}"}
  accessModes: ["${mode:-ReadWriteOnce}"]
  persistentVolumeReclaimPolicy: Delete
  storageClassName: "${class}"
  volumeMode: Filesystem
  claimRef: {apiVersion: v1, kind: PersistentVolumeClaim, namespace: "${ns}", name: "${name}", uid: "${uid}"}
  local: {path: "${path}"}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: ["${node}"]}]
YAML
    log "provisioned pvc-${uid} (${size}) for ${ns}/${name} on ${node}"
  fi
}

reclaim() {
  local pv="$1" path="$2"
  # Only a directory this provisioner made, directly under its own directory.
  if [[ "${path}" == "${dir}/${pv}" && "${pv}" == pvc-* ]]; then
    rm -rf -- "${path}"
  fi
  kc delete pv "${pv}" --wait=false >/dev/null 2>&1 && log "deleted ${pv} and its directory"
}

# '|' separates the fields: an empty field must keep its place.
pvc_fields='{range .items[*]}{.metadata.namespace}|{.metadata.name}|{.metadata.uid}|{.spec.storageClassName}|{.status.phase}|{.spec.volumeName}|{.metadata.annotations.volume\.kubernetes\.io/selected-node}|{.spec.resources.requests.storage}|{.spec.accessModes[0]}{"\n"}{end}'
pv_fields='{range .items[*]}{.metadata.name}|{.status.phase}|{.spec.local.path}{"\n"}{end}'

log "watching claims of StorageClass ${class} (volumes in ${dir})"
while true; do
  while IFS='|' read -r ns name uid cls phase volume node size mode; do
    [[ "${cls}" == "${class}" && "${phase}" == "Pending" && -z "${volume}" && -n "${node}" ]] || continue
    provision "${ns}" "${name}" "${uid}" "${size}" "${mode}" "${node}"
  done < <(kc get pvc -A -o jsonpath="${pvc_fields}" 2>/dev/null)
  while IFS='|' read -r pv phase path; do
    [[ "${phase}" == "Released" || "${phase}" == "Failed" ]] || continue
    reclaim "${pv}" "${path}"
  done < <(kc get pv -l pgop.local/provisioned-by=local-dir -o jsonpath="${pv_fields}" 2>/dev/null)
  sleep 1
done
