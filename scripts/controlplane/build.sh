#!/usr/bin/env bash
# Build a real Kubernetes control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl) plus kwok (fake kubelets)
# from Go modules, for integration tests. Nothing is downloaded except Go
# modules through the Go module proxy.
#
# Method: k8s.io/kubernetes cannot be built with `go install pkg@version`
# because its go.mod replaces every k8s.io/* staging module with a local
# ./staging path. So we create a small wrapper module (in the cache dir, not
# in the repo) that requires k8s.io/kubernetes at the pinned version and
# replaces each staging module with its published v0.X.Y twin, then
# `go build` the commands from there. etcd is built in the same wrapper at the
# version Kubernetes' go.mod requires. kwok has no replace directives, so it is
# built in its own tiny wrapper (its k8s.io deps differ from the release's).
# CoreDNS (a main of our own with only the plugins needed) and versitygw (the
# S3-compatible store backups go to) are built in wrappers of their own too.
#
# Binaries are cached per version pair; a second run returns at once.
# Prints the bin directory on stdout as its last line.
#
# Usage: scripts/controlplane/build.sh     (env: see lib.sh; PGOP_CP_FORCE_BUILD=1 rebuilds)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "${here}/lib.sh"

all_built() {
  local b
  for b in "${PGOP_CP_BINARIES[@]}"; do
    [[ -x "${PGOP_CP_BIN}/${b}" ]] || return 1
  done
  # kwok's stage config is produced by this script too.
  [[ -f "${PGOP_CP_BUILD_DIR}/kwok-stages.yaml" ]] || return 1
  [[ -x "${PGOP_COREDNS_BIN}" ]] || return 1
  [[ -x "${PGOP_VERSITYGW_BIN}" ]] || return 1
}
# The Kubernetes binaries and kwok (one cache dir), CoreDNS and versitygw (each its own) are
# built separately, so adding or bumping one does not rebuild the other.
k8s_built() {
  local b
  for b in "${PGOP_CP_BINARIES[@]}"; do
    [[ -x "${PGOP_CP_BIN}/${b}" ]] || return 1
  done
  [[ -f "${PGOP_CP_BUILD_DIR}/kwok-stages.yaml" ]]
}

if [[ "${PGOP_CP_FORCE_BUILD:-0}" != "1" ]] && all_built; then
  cp_log "cached binaries found (k8s ${PGOP_K8S_VERSION}, kwok ${PGOP_KWOK_VERSION}, versitygw ${PGOP_VERSITYGW_VERSION})"
  echo "${PGOP_CP_BIN}"
  exit 0
fi

command -v go >/dev/null || cp_die "go is not on PATH"

# One build at a time per cache (two test runs may call this together); the
# second waits, then finds the binaries built.
mkdir -p "${PGOP_CONTROLPLANE_CACHE}"
exec 9>"${PGOP_CONTROLPLANE_CACHE}/.build.lock"
if ! flock -n 9; then
  cp_log "another build.sh is running; waiting for it"
  flock 9
fi
if [[ "${PGOP_CP_FORCE_BUILD:-0}" != "1" ]] && all_built; then
  cp_log "cached binaries found (k8s ${PGOP_K8S_VERSION}, kwok ${PGOP_KWOK_VERSION}, versitygw ${PGOP_VERSITYGW_VERSION})"
  echo "${PGOP_CP_BIN}"
  exit 0
fi

# Keep the Go module cache and build cache wherever the user has them; only
# the wrapper modules and outputs live in the cache dir.
export CGO_ENABLED=0
export GOFLAGS="-mod=mod -buildvcs=false"
# Never let a GOTOOLCHAIN switch download a toolchain: use the installed go.
export GOTOOLCHAIN=local

k8s_ver="${PGOP_K8S_VERSION}"
# Staging modules are published as v0.<minor>.<patch> for release v1.<minor>.<patch>.
staging_ver="v0.${k8s_ver#v1.}"
kwok_ver="${PGOP_KWOK_VERSION}"

if [[ "${PGOP_CP_FORCE_BUILD:-0}" == "1" ]] || ! k8s_built; then
# Build into bin.new and move each binary into bin/ at the end: a rename
# never disturbs a control plane still running the old files.
out="${PGOP_CP_BUILD_DIR}/bin.new"
rm -rf "${out}"
mkdir -p "${PGOP_CP_BIN}" "${out}"
work="${PGOP_CP_BUILD_DIR}/src"
rm -rf "${work}"
mkdir -p "${work}/k8s" "${work}/kwok"

# ---------------------------------------------------------------- kubernetes
cp_log "downloading k8s.io/kubernetes@${k8s_ver} (module cache)"
k8s_dir="$(go mod download -json "k8s.io/kubernetes@${k8s_ver}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -n "${k8s_dir}" && -f "${k8s_dir}/go.mod" ]] || cp_die "could not download k8s.io/kubernetes@${k8s_ver}"

# Read go directive, godebug default and the etcd version from the release's go.mod.
k8s_gomod="${k8s_dir}/go.mod"
go_directive="$(awk '$1=="go"{print $2; exit}' "${k8s_gomod}")"
godebug_line="$(grep -E '^godebug ' "${k8s_gomod}" || true)"
etcd_ver="$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "${k8s_gomod}")"
[[ -n "${etcd_ver}" ]] || cp_die "no go.etcd.io/etcd/server/v3 requirement in ${k8s_gomod}"

# Every `k8s.io/X => ./staging/src/k8s.io/X` becomes `k8s.io/X => k8s.io/X v0.Y.Z`.
replaces="$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\t\1 => \1 '"${staging_ver}"'#p' "${k8s_gomod}")"
[[ -n "${replaces}" ]] || cp_die "no staging replace lines found in ${k8s_gomod}"

{
  echo "module pgop.local/controlplane-k8s"
  echo
  echo "go ${go_directive}"
  [[ -n "${godebug_line}" ]] && echo "${godebug_line}"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes ${k8s_ver}"
  echo "	go.etcd.io/etcd/server/v3 ${etcd_ver}"
  echo ")"
  echo
  echo "replace ("
  echo "${replaces}"
  echo ")"
} >"${work}/k8s/go.mod"

k8s_pkgs=(
  k8s.io/kubernetes/cmd/kube-apiserver
  k8s.io/kubernetes/cmd/kube-controller-manager
  k8s.io/kubernetes/cmd/kube-scheduler
  k8s.io/kubernetes/cmd/kubectl
  k8s.io/kubernetes/cmd/kubelet
  k8s.io/kubernetes/cmd/kube-proxy
)

minor="${k8s_ver#v1.}"; minor="${minor%%.*}"
k8s_ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=${k8s_ver} \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=${minor} \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/component-base/version.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"

cp_log "resolving dependencies for k8s ${k8s_ver} (staging ${staging_ver}) + etcd ${etcd_ver}"
(
  cd "${work}/k8s"
  # `go get` on the exact packages records the requirements and go.sum
  # entries they need (without upgrading anything past the release's pins).
  go get "${k8s_pkgs[@]/%/@${k8s_ver}}" "go.etcd.io/etcd/server/v3@${etcd_ver}"
)

cp_log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet, kube-proxy (slow on a cold cache)"
(
  cd "${work}/k8s"
  # One invocation for all six: the shared packages are compiled once.
  go build -trimpath -ldflags "${k8s_ldflags}" -o "${out}/" "${k8s_pkgs[@]}"
)

cp_log "building etcd ${etcd_ver}"
(
  cd "${work}/k8s"
  go build -trimpath -ldflags "-s -w" -o "${out}/etcd" go.etcd.io/etcd/server/v3
)

# ---------------------------------------------------------------------- kwok
cp_log "building kwok ${kwok_ver}"
kwok_dir="$(go mod download -json "sigs.k8s.io/kwok@${kwok_ver}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -n "${kwok_dir}" && -f "${kwok_dir}/go.mod" ]] || cp_die "could not download sigs.k8s.io/kwok@${kwok_ver}"
kwok_go="$(awk '$1=="go"{print $2; exit}' "${kwok_dir}/go.mod")"
printf 'module pgop.local/controlplane-kwok\n\ngo %s\n\nrequire sigs.k8s.io/kwok %s\n' \
  "${kwok_go}" "${kwok_ver}" >"${work}/kwok/go.mod"
(
  cd "${work}/kwok"
  go get "sigs.k8s.io/kwok/cmd/kwok@${kwok_ver}"
  go build -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${kwok_ver#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${k8s_ver}" \
    -o "${out}/kwok" sigs.k8s.io/kwok/cmd/kwok
)

# kwok (unlike kwokctl) has no built-in stages: it must be given Stage
# objects. Take the upstream "fast" node and pod stages and the node lease
# heartbeat verbatim from the pinned release, so pods become Running/Ready.
# Volumes are handled separately (see up.sh), from the same release's
# volume stages with the storage class renamed.
stages="${PGOP_CP_BUILD_DIR}/kwok-stages.yaml"
{
  for f in \
    kustomize/stage/node/fast/node-initialize.yaml \
    kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    kustomize/stage/pod/fast/pod-ready.yaml \
    kustomize/stage/pod/fast/pod-complete.yaml \
    kustomize/stage/pod/fast/pod-delete.yaml \
    kustomize/stage/volume/fast/pv-bind.yaml \
    kustomize/stage/volume/fast/pv-delete.yaml \
    kustomize/stage/volume/fast/pvc-provision.yaml \
    kustomize/stage/volume/fast/pvc-delete.yaml; do
    [[ -f "${kwok_dir}/${f}" ]] || cp_die "kwok ${kwok_ver} has no ${f}"
    echo "---"
    # Upstream volume stages act on storage class 'kwok-volume'; ours is 'standard'.
    sed "s/'kwok-volume'/'standard'/g" "${kwok_dir}/${f}"
  done
} >"${stages}.tmp"
mv "${stages}.tmp" "${stages}"

for b in "${PGOP_CP_BINARIES[@]}"; do
  [[ -x "${out}/${b}" ]] || cp_die "go build produced no ${b}"
  mv -f "${out}/${b}" "${PGOP_CP_BIN}/${b}"
done
rmdir "${out}"

# Record what was built, for humans.
{
  echo "kubernetes ${k8s_ver} (staging ${staging_ver})"
  echo "etcd ${etcd_ver}"
  echo "kwok ${kwok_ver}"
  echo "go $(go env GOVERSION)"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"${PGOP_CP_BUILD_DIR}/VERSIONS"

fi

if [[ "${PGOP_CP_FORCE_BUILD:-0}" == "1" || ! -x "${PGOP_COREDNS_BIN}" ]]; then
# ------------------------------------------------------------------- coredns
# Cluster DNS for the real node (cluster.local only). A main of our own links
# just the plugins the Corefile uses, which keeps the build to a fraction of
# upstream's (whose cloud DNS plugins pull in large SDKs).
coredns_ver="${PGOP_COREDNS_VERSION}"
cp_log "building coredns ${coredns_ver} (plugins: ${PGOP_COREDNS_PLUGINS})"
coredns_out="$(dirname "${PGOP_COREDNS_BIN}")"
work="${coredns_out}/src"
rm -rf "${work}"
mkdir -p "${work}/coredns"
coredns_dir="$(go mod download -json "github.com/coredns/coredns@${coredns_ver}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -n "${coredns_dir}" && -f "${coredns_dir}/go.mod" ]] || cp_die "could not download github.com/coredns/coredns@${coredns_ver}"
coredns_go="$(awk '$1=="go"{print $2; exit}' "${coredns_dir}/go.mod")"
printf 'module pgop.local/controlplane-coredns\n\ngo %s\n\nrequire github.com/coredns/coredns %s\n' \
  "${coredns_go}" "${coredns_ver}" >"${work}/coredns/go.mod"
{
  echo "// CoreDNS with only the plugins the real node's Corefile uses (generated by build.sh)."
  echo "package main"
  echo
  echo "import ("
  echo '	"github.com/coredns/coredns/core/dnsserver"'
  echo '	"github.com/coredns/coredns/coremain"'
  for plugin in ${PGOP_COREDNS_PLUGINS}; do echo "	_ \"github.com/coredns/coredns/plugin/${plugin}\""; done
  echo ")"
  echo
  echo "// The order in which plugins see a query: a subset of upstream's plugin.cfg, same order."
  echo "func init() {"
  printf '	dnsserver.Directives = []string{'
  printf '"%s", ' ${PGOP_COREDNS_PLUGINS} | sed 's/, $//'
  echo "}"
  echo "}"
  echo
  echo "func main() { coremain.Run() }"
} >"${work}/coredns/main.go"
(
  cd "${work}/coredns"
  go get "github.com/coredns/coredns@${coredns_ver}"
  go mod tidy
  go build -trimpath -ldflags "-s -w" -o "${coredns_out}/coredns.new" .
)
mv -f "${coredns_out}/coredns.new" "${PGOP_COREDNS_BIN}"
rm -rf "${work}"
fi

if [[ "${PGOP_CP_FORCE_BUILD:-0}" == "1" || ! -x "${PGOP_VERSITYGW_BIN}" ]]; then
# ----------------------------------------------------------------- versitygw
# The S3-compatible object store backups go to, with its POSIX backend (a bucket is a directory).
# Its main package is built as published, from a wrapper module that requires it.
vgw_ver="${PGOP_VERSITYGW_VERSION}"
cp_log "building versitygw ${vgw_ver}"
vgw_out="$(dirname "${PGOP_VERSITYGW_BIN}")"
work="${vgw_out}/src"
rm -rf "${work}"
mkdir -p "${work}"
vgw_dir="$(go mod download -json "github.com/versity/versitygw@${vgw_ver}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -n "${vgw_dir}" && -f "${vgw_dir}/go.mod" ]] || cp_die "could not download github.com/versity/versitygw@${vgw_ver}"
vgw_go="$(awk '$1=="go"{print $2; exit}' "${vgw_dir}/go.mod")"
printf 'module pgop.local/controlplane-versitygw\n\ngo %s\n\nrequire github.com/versity/versitygw %s\n' \
  "${vgw_go}" "${vgw_ver}" >"${work}/go.mod"
(
  cd "${work}"
  go get "github.com/versity/versitygw/cmd/versitygw@${vgw_ver}"
  go build -trimpath \
    -ldflags "-s -w -X main.Version=${vgw_ver} -X main.Build=module -X main.BuildTime=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -o "${vgw_out}/versitygw.new" github.com/versity/versitygw/cmd/versitygw
)
mv -f "${vgw_out}/versitygw.new" "${PGOP_VERSITYGW_BIN}"
rm -rf "${work}"
fi

all_built || cp_die "build finished but some binaries are missing in ${PGOP_CP_BIN}"
cp_log "binaries ready in ${PGOP_CP_BIN}"
echo "${PGOP_CP_BIN}"
