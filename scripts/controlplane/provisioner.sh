#!/usr/bin/env bash
# The real node's volume provisioner and resizer. Every second:
#
# - for each PersistentVolumeClaim of StorageClass CLASS that is Pending, unbound and scheduled
#   (the scheduler annotated its selected node: the class is WaitForFirstConsumer), it makes a
#   volume of the claim's size at DIR/pvc-<uid> and a `local` PersistentVolume pinned to that node
#   and bound to the claim;
# - for each bound claim of CLASS whose request is larger than its capacity, it grows the volume
#   while it is mounted, then the PersistentVolume's capacity, then the claim's status capacity
#   (it acts as the external resizer of the class: kube-controller-manager's expand controller
#   only records "waiting for an external controller to expand this PVC" for a `local` volume);
# - when a volume of ours is Released (its claim deleted, reclaim policy Delete), it removes the
#   volume and then the PersistentVolume.
#
# A volume is a filesystem of the claim's size: a sparse image DIR/pvc-<uid>.img attached to a
# loop device and mounted at DIR/pvc-<uid>. The filesystem is ext4 where the kernel lets root grow
# ext4 online (that needs CAP_SYS_RESOURCE), else XFS (xfs_growfs needs only CAP_SYS_ADMIN), else
# ext4 that cannot grow. Without loop devices (no /dev/loop-control, or losetup fails) a volume is
# a plain directory, as before: it has no size of its own and cannot grow.
# PGOP_NODE_VOLUME_FS=ext4|xfs|dir forces a kind. It touches no file, mount or loop device it did
# not make: only DIR/pvc-* and loop devices whose backing file is DIR/pvc-*.img.
#
# Usage:
#   provisioner.sh DIR CLASS PROVISIONER-NAME   run (kubectl and KUBECONFIG from the environment)
#   provisioner.sh --probe DIR                  print the kind of volume it would make
#                                               (ext4, xfs, ext4-fixed or dir) and why
#   provisioner.sh --cleanup DIR                unmount every volume under DIR and detach its loop
#                                               devices (node-down.sh; the images stay)
# Sourced with PGOP_PROVISIONER_LIB=1 it only defines its functions (the tests use them).
set -uo pipefail

log() { printf '%s provisioner: %s\n' "$(date -u +%FT%TZ)" "$*"; }
kc() { kubectl --request-timeout=10s "$@"; }

# ------------------------------------------------------------------ quantities
# quantity_bytes Q: prints the number of bytes of a Kubernetes quantity (plain, k M G T P E,
# Ki Mi Gi Ti Pi Ei, with an optional fraction, rounded up as Kubernetes does), or fails for
# anything else (a milli suffix, an exponent, a sign) and for more than 2^62 bytes.
quantity_bytes() {
  local q="$1" int frac suffix mult scale=1 n max=$((1 << 62))
  [[ "${q}" =~ ^([0-9]+)(\.([0-9]+))?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$ ]] || return 1
  int="${BASH_REMATCH[1]}" frac="${BASH_REMATCH[3]}" suffix="${BASH_REMATCH[4]}"
  case "${suffix}" in
    "") mult=1 ;;
    k) mult=1000 ;; M) mult=1000000 ;; G) mult=1000000000 ;; T) mult=1000000000000 ;;
    P) mult=1000000000000000 ;; E) mult=1000000000000000000 ;;
    Ki) mult=$((1 << 10)) ;; Mi) mult=$((1 << 20)) ;; Gi) mult=$((1 << 30)) ;;
    Ti) mult=$((1 << 40)) ;; Pi) mult=$((1 << 50)) ;; Ei) mult=$((1 << 60)) ;;
  esac
  # No leading zeros reach arithmetic (they would read as octal); at most 18 digits either side.
  int="${int#"${int%%[!0]*}"}" frac="${frac%"${frac##*[!0]}"}"
  ((${#int} <= 18 && ${#frac} <= 18)) || return 1
  int=$((10#${int:-0}))
  if ((int > max / mult)); then return 1; fi
  n=$((int * mult))
  if [[ -n "${frac}" ]]; then
    local i f
    for ((i = 0; i < ${#frac}; i++)); do scale=$((scale * 10)); done
    f=$((10#${frac}))
    # ceil(f * mult / scale) without overflowing: mult and scale share factors of 10 or none.
    local g=${mult} s=${scale}
    while ((g % 10 == 0 && s % 10 == 0)); do g=$((g / 10)) s=$((s / 10)); done
    if ((f > (max - n) / (g > 0 ? g : 1))); then return 1; fi
    n=$((n + (f * g + s - 1) / s))
  fi
  ((n <= max)) || return 1
  printf '%d\n' "${n}"
}

# ------------------------------------------------------------------ volumes
# Which kind of volume this host can make: prints "KIND reason". KIND is ext4 (grows online), xfs
# (grows online), ext4-fixed (sized, cannot grow) or dir (a plain directory). DIR is where the
# probe image goes (removed again).
volume_probe() {
  local d="$1" want="${PGOP_NODE_VOLUME_FS:-auto}" dev img
  if [[ "${want}" == dir ]]; then echo "dir PGOP_NODE_VOLUME_FS=dir"; return 0; fi
  if [[ "$(id -u)" != 0 ]]; then echo "dir not root: loop devices need root"; return 0; fi
  if [[ ! -e /dev/loop-control ]]; then echo "dir no /dev/loop-control: the kernel offers no loop devices"; return 0; fi
  local t
  for t in losetup mkfs.ext4 mount umount; do
    command -v "${t}" >/dev/null || { echo "dir ${t} is not installed"; return 0; }
  done
  img="${d}/.probe-$$.img"
  truncate -s 1M "${img}" 2>/dev/null || { echo "dir cannot write ${d}"; return 0; }
  if ! dev="$(losetup --find --show "${img}" 2>&1)"; then
    rm -f "${img}"
    echo "dir losetup failed: ${dev}"
    return 0
  fi
  losetup -d "${dev}" 2>/dev/null
  rm -f "${img}"
  # CAP_SYS_RESOURCE (bit 24) in the effective set: ext4's online resize ioctl demands it.
  local cap_eff can_grow_ext4=0
  cap_eff="$(awk '/^CapEff:/ {print $2}' /proc/self/status)"
  if (((16#${cap_eff:-0} >> 24) & 1)) && command -v resize2fs >/dev/null; then can_grow_ext4=1; fi
  local has_xfs=0
  if command -v mkfs.xfs >/dev/null && command -v xfs_growfs >/dev/null && grep -qw xfs /proc/filesystems; then
    has_xfs=1
  fi
  case "${want}" in
    ext4)
      if ((can_grow_ext4)); then echo "ext4 forced by PGOP_NODE_VOLUME_FS"; else echo "ext4-fixed forced by PGOP_NODE_VOLUME_FS, and ext4 cannot grow online here (no CAP_SYS_RESOURCE or no resize2fs)"; fi ;;
    xfs)
      if ((has_xfs)); then echo "xfs forced by PGOP_NODE_VOLUME_FS"; else echo "dir PGOP_NODE_VOLUME_FS=xfs but mkfs.xfs, xfs_growfs or the kernel's xfs is missing"; fi ;;
    *)
      if ((can_grow_ext4)); then
        echo "ext4 ext4 grows online here"
      elif ((has_xfs)); then
        echo "xfs ext4 cannot grow online without CAP_SYS_RESOURCE, which root lacks here"
      else
        echo "ext4-fixed ext4 cannot grow online without CAP_SYS_RESOURCE and XFS (xfsprogs) is missing"
      fi ;;
  esac
}

# Succeeds if PATH is a mount point (a line of /proc/self/mountinfo names it exactly).
is_mountpoint() { awk -v p="$1" '$5 == p {found = 1} END {exit !found}' /proc/self/mountinfo; }

# Prints the loop devices whose backing file is IMG (also when the file was deleted).
loops_of() {
  local img="$1" f b
  for f in /sys/block/loop*/loop/backing_file; do
    [[ -r "${f}" ]] || continue
    b="$(<"${f}")"
    [[ "${b}" == "${img}" || "${b}" == "${img} (deleted)" ]] && echo "/dev/$(basename "$(dirname "$(dirname "${f}")")")"
  done
  return 0
}

# volume_create KIND PATH BYTES: makes the volume at PATH (idempotent: a volume already mounted
# there is kept). On failure nothing is left behind and it fails with one line on stderr.
volume_create() {
  local kind="$1" path="$2" bytes="$3" img="$2.img" dev out
  if [[ "${kind}" == dir ]]; then mkdir -p "${path}"; return; fi
  is_mountpoint "${path}" && return 0
  mkdir -p "${path}" || return 1
  out="$({
    truncate -s "${bytes}" "${img}" &&
      case "${kind}" in
        xfs)
          # mkfs.xfs refuses filesystems under 300MB unless it runs for fstests (all three set).
          TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 mkfs.xfs -q -f "${img}" ;;
        *) mkfs.ext4 -q -F -m 0 "${img}" ;;
      esac
  } 2>&1)" || { echo "cannot make the filesystem of ${img}: ${out}" >&2; rm -f "${img}"; return 1; }
  if ! dev="$(losetup --find --show "${img}" 2>&1)"; then
    echo "losetup ${img} failed: ${dev}" >&2
    rm -f "${img}"
    return 1
  fi
  if ! out="$(mount "${dev}" "${path}" 2>&1)"; then
    echo "mount ${dev} ${path} failed: ${out}" >&2
    losetup -d "${dev}" 2>/dev/null
    rm -f "${img}"
    return 1
  fi
  # The root is writable for its owner only, like the directory mkdir made before: the kubelet
  # applies the pod's fsGroup to a local volume (group and setgid).
  chmod 0755 "${path}"
}

# volume_grow PATH BYTES: grows the mounted volume at PATH to BYTES, online. Exit 0 when done
# (also when it already was that large), 2 when the volume cannot grow (a directory, or ext4
# without CAP_SYS_RESOURCE), 1 when it failed; one line on stderr unless 0.
volume_grow() {
  local path="$1" bytes="$2" img="$1.img" dev fstype out
  if ! is_mountpoint "${path}" || [[ ! -f "${img}" ]]; then
    echo "${path} is a plain directory (no loop devices on this node): it cannot grow" >&2
    return 2
  fi
  dev="$(loops_of "${img}" | head -n 1)"
  [[ -n "${dev}" ]] || { echo "no loop device holds ${img}" >&2; return 1; }
  fstype="$(awk -v p="${path}" '$5 == p {for (i = 7; $i != "-"; i++); print $(i + 1)}' /proc/self/mountinfo | tail -n 1)"
  if (($(stat -c %s "${img}") < bytes)); then
    out="$(truncate -s "${bytes}" "${img}" 2>&1)" || { echo "cannot grow ${img}: ${out}" >&2; return 1; }
  fi
  out="$(losetup -c "${dev}" 2>&1)" || { echo "losetup -c ${dev} failed: ${out}" >&2; return 1; }
  case "${fstype}" in
    xfs) out="$(xfs_growfs "${path}" 2>&1)" ;;
    ext4) out="$(resize2fs "${dev}" 2>&1)" ;;
    *) echo "${path} is ${fstype}, which it cannot grow" >&2; return 2 ;;
  esac || {
    if [[ "${fstype}" == ext4 && "${out}" == *"Permission denied"* ]]; then
      echo "ext4 cannot grow online here (the kernel demands CAP_SYS_RESOURCE, which root lacks)" >&2
      return 2
    fi
    echo "growing the ${fstype} filesystem at ${path} failed: $(tail -n 1 <<<"${out}")" >&2
    return 1
  }
}

# volume_remove DIR PATH: unmounts PATH, detaches its loop device and deletes its image, then
# the mount point. Only DIR/pvc-*. Fails (and leaves the rest) when PATH is still mounted.
volume_remove() {
  local d="$1" path="$2" dev
  [[ "${path}" == "${d}"/pvc-* && "${path}" != */../* ]] || return 1
  if is_mountpoint "${path}"; then
    umount "${path}" 2>/dev/null || { echo "${path} is busy: not removed yet" >&2; return 1; }
  fi
  for dev in $(loops_of "${path}.img"); do losetup -d "${dev}" 2>/dev/null; done
  rm -f -- "${path}.img"
  rm -rf -- "${path}"
}

# volumes_cleanup DIR: every mount under DIR undone (deepest first, lazily if busy) and every
# loop device whose backing file is DIR/pvc-*.img detached (a busy one detaches when its last
# user goes). The images stay. For node-down.sh, also when the provisioner died.
volumes_cleanup() {
  local d="$1" m f b
  mapfile -t mounts < <(awk -v p="${d}" 'index($5, p "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)
  for m in "${mounts[@]}"; do
    umount "${m}" 2>/dev/null || umount -l "${m}" 2>/dev/null || echo "cannot unmount ${m}" >&2
  done
  for f in /sys/block/loop*/loop/backing_file; do
    [[ -r "${f}" ]] || continue
    b="$(<"${f}")"
    b="${b% (deleted)}"
    [[ "${b}" == "${d}"/pvc-*.img && "${b}" != */../* ]] || continue
    losetup -d "/dev/$(basename "$(dirname "$(dirname "${f}")")")" 2>/dev/null || echo "cannot detach the loop device of ${b}" >&2
  done
  return 0
}

# ------------------------------------------------------------------ the API
# event NS PVC UID TYPE REASON MESSAGE: records an Event on a claim (best effort).
event() {
  local ns="$1" name="$2" uid="$3" type="$4" reason="$5" message="${6//$'\n'/ }" now q="'"
  now="$(date -u +%FT%TZ)"
  message="${message//${q}/${q}${q}}"
  kc create -f - >/dev/null 2>&1 <<YAML || true
apiVersion: v1
kind: Event
metadata: {generateName: "${name}.", namespace: "${ns}"}
involvedObject: {apiVersion: v1, kind: PersistentVolumeClaim, namespace: "${ns}", name: "${name}", uid: "${uid}"}
type: ${type}
reason: ${reason}
message: '${message}'
source: {component: "${provisioner}"}
firstTimestamp: "${now}"
lastTimestamp: "${now}"
count: 1
YAML
}

provision() {
  local ns="$1" name="$2" uid="$3" size="$4" mode="$5" node="$6"
  local path="${dir}/pvc-${uid}" bytes err
  if ! bytes="$(quantity_bytes "${size}")"; then
    [[ -n "${refused[${uid}]:-}" ]] || log "refused ${ns}/${name}: cannot read its size \"${size}\""
    refused[${uid}]=1
    return
  fi
  if ! err="$(volume_create "${kind}" "${path}" "${bytes}" 2>&1)"; then
    log "could not make the volume of ${ns}/${name}: ${err}"
    return
  fi
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
    log "provisioned pvc-${uid} (${size}, ${kind}) for ${ns}/${name} on ${node}"
  fi
}

# expand NS NAME UID VOLUME REQUEST CAPACITY: grows a bound claim's volume to its request.
expand() {
  local ns="$1" name="$2" uid="$3" pv="$4" request="$5" capacity="$6" want have path labels err rc
  want="$(quantity_bytes "${request}")" || return
  have="$(quantity_bytes "${capacity}")" || return
  ((want > have)) || return
  # Only a volume this provisioner made.
  IFS='|' read -r path labels < <(kc get pv "${pv}" -o jsonpath='{.spec.local.path}|{.metadata.labels.pgop\.local/provisioned-by}' 2>/dev/null)
  [[ "${labels:-}" == local-dir && "${path:-}" == "${dir}/${pv}" ]] || return
  err="$(volume_grow "${path}" "${want}" 2>&1)"
  rc=$?
  if ((rc != 0)); then
    # Once per claim and request: the loop comes back every second.
    if [[ "${resize_reported[${uid}]:-}" != "${request}" ]]; then
      resize_reported[${uid}]="${request}"
      log "cannot grow ${pv} of ${ns}/${name} to ${request}: ${err}"
      event "${ns}" "${name}" "${uid}" Warning VolumeResizeFailed "cannot grow ${pv} to ${request}: ${err}"
    fi
    return
  fi
  kc patch pv "${pv}" --type=merge -p "{\"spec\":{\"capacity\":{\"storage\":\"${request}\"}}}" >/dev/null 2>&1 \
    || { log "could not update the capacity of ${pv}"; return; }
  # The claim's status: its capacity, what is allocated, and no resize left in progress.
  kc patch pvc "${name}" -n "${ns}" --subresource=status --type=merge -p \
    "{\"status\":{\"capacity\":{\"storage\":\"${request}\"},\"allocatedResources\":{\"storage\":\"${request}\"},\"allocatedResourceStatuses\":null,\"conditions\":null}}" \
    >/dev/null 2>&1 || { log "could not update the status of ${ns}/${name}"; return; }
  unset "resize_reported[${uid}]"
  log "grew ${pv} of ${ns}/${name} from ${capacity} to ${request}"
  event "${ns}" "${name}" "${uid}" Normal VolumeResizeSuccessful "${pv} grew from ${capacity} to ${request}: the ${kind} filesystem was resized online"
}

reclaim() {
  local pv="$1" path="$2" err
  # Only a volume this provisioner made, directly under its own directory.
  if [[ "${path}" == "${dir}/${pv}" && "${pv}" == pvc-* ]]; then
    if ! err="$(volume_remove "${dir}" "${path}" 2>&1)"; then
      log "could not remove ${path} yet: ${err}"
      return
    fi
  fi
  kc delete pv "${pv}" --wait=false >/dev/null 2>&1 && log "deleted ${pv} and its volume"
}

main() {
  dir="$1" class="$2" provisioner="$3"
  mkdir -p "${dir}"
  dir="$(realpath "${dir}")"
  local probe
  probe="$(volume_probe "${dir}")"
  kind="${probe%% *}"
  declare -gA refused=() resize_reported=()
  case "${kind}" in
    dir) log "WARNING: volumes are plain directories (${probe#* }): they have no size and cannot grow" ;;
    ext4-fixed) log "WARNING: volumes are ext4 of the claim's size, but cannot grow (${probe#* })" ;;
    *) log "volumes are ${kind} of the claim's size and grow online (${probe#* })" ;;
  esac

  # '|' separates the fields: an empty field must keep its place.
  local pvc_fields='{range .items[*]}{.metadata.namespace}|{.metadata.name}|{.metadata.uid}|{.spec.storageClassName}|{.status.phase}|{.spec.volumeName}|{.metadata.annotations.volume\.kubernetes\.io/selected-node}|{.spec.resources.requests.storage}|{.spec.accessModes[0]}|{.status.capacity.storage}{"\n"}{end}'
  local pv_fields='{range .items[*]}{.metadata.name}|{.status.phase}|{.spec.local.path}{"\n"}{end}'

  log "watching claims of StorageClass ${class} (volumes in ${dir})"
  while true; do
    while IFS='|' read -r ns name uid cls phase volume node size mode capacity; do
      [[ "${cls}" == "${class}" ]] || continue
      if [[ "${phase}" == "Pending" && -z "${volume}" && -n "${node}" ]]; then
        provision "${ns}" "${name}" "${uid}" "${size}" "${mode}" "${node}"
      elif [[ "${phase}" == "Bound" && "${volume}" == pvc-* && -n "${capacity}" ]]; then
        expand "${ns}" "${name}" "${uid}" "${volume}" "${size}" "${capacity}"
      fi
    done < <(kc get pvc -A -o jsonpath="${pvc_fields}" 2>/dev/null)
    while IFS='|' read -r pv phase path; do
      [[ "${phase}" == "Released" || "${phase}" == "Failed" ]] || continue
      reclaim "${pv}" "${path}"
    done < <(kc get pv -l pgop.local/provisioned-by=local-dir -o jsonpath="${pv_fields}" 2>/dev/null)
    sleep 1
  done
}

[[ "${PGOP_PROVISIONER_LIB:-}" == 1 ]] && return 0
case "${1:-}" in
  --probe)
    [[ -n "${2:-}" ]] || { echo "usage: provisioner.sh --probe DIR" >&2; exit 2; }
    mkdir -p "$2" && volume_probe "$(realpath "$2")" ;;
  --cleanup)
    [[ -n "${2:-}" ]] || { echo "usage: provisioner.sh --cleanup DIR" >&2; exit 2; }
    [[ -d "$2" ]] || exit 0
    volumes_cleanup "$(realpath "$2")" ;;
  *)
    [[ $# == 3 ]] || { echo "usage: provisioner.sh DIR CLASS PROVISIONER-NAME" >&2; exit 2; }
    main "$@" ;;
esac
