#!/usr/bin/env bash
# End-to-end check of the control plane scripts: build (cached), up, then with
# the built kubectl: a StatefulSet with a volumeClaimTemplate gets a Ready pod
# and a Bound PVC; deleting owners garbage-collects dependents; deleting the
# PVC deletes its PV; restart-apiserver.sh keeps the cluster working; down.
#
# Usage: scripts/controlplane/smoke-test.sh   (same env as up.sh)
# Exits non-zero on the first failure; always runs down.sh at the end unless
# PGOP_CP_SMOKE_KEEP=1 (then the cluster stays up for inspection).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "${here}/lib.sh"

cleanup() {
  local rc=$?
  if [[ "${PGOP_CP_SMOKE_KEEP:-0}" != "1" ]]; then
    "${here}/down.sh" || rc=1
  fi
  if ((rc == 0)); then
    echo "controlplane smoke: 1 passed, 0 failed"
  else
    echo "controlplane smoke: 0 passed, 1 failed"
  fi
  exit "${rc}"
}

t0=${SECONDS}
# Trap first: a half-started control plane is stopped too.
trap cleanup EXIT
up_out="$("${here}/up.sh")"
eval "${up_out}"
echo "up took $((SECONDS - t0))s"

k() { kubectl --request-timeout=30s "$@"; }
step() { printf '\n=== %s\n' "$*"; }
# until_ok SECONDS CMD...: retry CMD every 0.5s for at most SECONDS.
until_ok() {
  local limit=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < limit)) || { echo "FAILED: $*" >&2; return 1; }
    sleep 0.5
  done
}

ns=smoke
k create namespace "${ns}"
# Pods are rejected until the namespace's default ServiceAccount exists.
until_ok 60 k -n "${ns}" get serviceaccount default

step "StatefulSet with a volumeClaimTemplate"
k apply -f - <<EOF
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: pg, namespace: ${ns}}
spec:
  serviceName: pg
  replicas: 1
  selector: {matchLabels: {app: pg}}
  template:
    metadata: {labels: {app: pg}}
    spec:
      containers:
      - name: postgres
        image: postgres:16
        volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
EOF
until_ok 60 k -n "${ns}" get pod pg-0
k -n "${ns}" wait --for=condition=Ready pod/pg-0 --timeout=120s
[[ "$(k -n "${ns}" get pod pg-0 -o jsonpath='{.status.containerStatuses[0].ready}')" == "true" ]]
[[ "$(k -n "${ns}" get pod pg-0 -o jsonpath='{.status.phase}')" == "Running" ]]
k -n "${ns}" wait --for=jsonpath='{.status.phase}'=Bound pvc/data-pg-0 --timeout=60s
pv="$(k -n "${ns}" get pvc data-pg-0 -o jsonpath='{.spec.volumeName}')"
k wait --for=jsonpath='{.status.phase}'=Bound "pv/${pv}" --timeout=60s
k -n "${ns}" get sts,pod,pvc -o wide
k get pv

step "scale to 3: pods spread over the fake nodes"
k -n "${ns}" scale sts pg --replicas=3
k -n "${ns}" rollout status sts/pg --timeout=120s
k -n "${ns}" get pod -o wide

step "garbage collection: delete the StatefulSet, its pods go"
k -n "${ns}" delete sts pg --wait=true
k -n "${ns}" wait --for=delete pod/pg-0 pod/pg-1 pod/pg-2 --timeout=60s
# ControllerRevisions are owned by the StatefulSet too.
until_ok 60 bash -c "[[ -z \"\$(kubectl -n ${ns} get controllerrevisions -o name)\" ]]"

step "garbage collection: plain ownerReference"
k -n "${ns}" create configmap owner
uid="$(k -n "${ns}" get configmap owner -o jsonpath='{.metadata.uid}')"
k apply -f - <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: child
  namespace: ${ns}
  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: owner, uid: "${uid}"}]
EOF
k -n "${ns}" delete configmap owner
k -n "${ns}" wait --for=delete configmap/child --timeout=60s

step "PVC deletion deletes its PV (reclaimPolicy Delete)"
k -n "${ns}" delete pvc --all --wait=true
k wait --for=delete "pv/${pv}" --timeout=60s

step "restart kube-apiserver; the cluster keeps working"
"${here}/restart-apiserver.sh"
k -n "${ns}" create deployment web --image=nginx --replicas=2
k -n "${ns}" rollout status deploy/web --timeout=120s
k -n "${ns}" delete deploy web --cascade=foreground --wait=true
until_ok 60 bash -c "[[ -z \"\$(kubectl -n ${ns} get pods,replicasets -o name)\" ]]"

step "namespace deletion"
k delete namespace "${ns}" --timeout=120s

echo
echo "smoke test OK in $((SECONDS - t0))s"
