#!/usr/bin/env bash
# The postgres images' entrypoint (the project's own), honouring the official image's contract:
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER (default
#   postgres), POSTGRES_DB (default: the user), PGDATA, POSTGRES_INITDB_ARGS,
#   POSTGRES_HOST_AUTH_METHOD (default scram-sha-256).
# On first start it runs initdb (scram-sha-256, password auth on host connections, listen on all
# addresses), creates POSTGRES_DB, and runs /docker-entrypoint-initdb.d/*.sh and *.sql.
# Started as root, it hands PGDATA to 999:999 and runs itself again as that user.
# On every start it does chmod 700 "$PGDATA" (the kubelet's fsGroup handling makes it g+rwxs,
# which PostgreSQL refuses), refuses a data directory of another major (one line, exit 1), and
# finally execs postgres, so SIGINT (the image's StopSignal) is a fast shutdown.
# Any first argument other than "postgres" or an option is run as is (e.g. `bash`).
set -Eeuo pipefail

die() {
  echo "docker-entrypoint.sh: $*" >&2
  exit 1
}

if [[ $# -eq 0 || "${1:0:1}" == "-" ]]; then
  set -- postgres "$@"
fi
if [[ "$1" != "postgres" ]]; then
  exec "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

# Started as root (docker run, ctr run): as the official image does with gosu, give PGDATA and
# the socket directory to postgres and run this script again as 999:999. Kubernetes pods of the
# operator start as 999 already (runAsUser).
if [[ "$(id -u)" == "0" ]]; then
  mkdir -p "${PGDATA}" /run/postgresql
  chown 999:999 "${PGDATA}" /run/postgresql
  chmod 700 "${PGDATA}"
  exec setpriv --reuid=999 --regid=999 --clear-groups "${BASH_SOURCE[0]}" "$@"
fi
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-${user}}"
auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
major="$(postgres -V | sed -E 's/^[^0-9]*([0-9]+).*$/\1/')"

mkdir -p "${PGDATA}" 2>/dev/null || die "cannot create PGDATA \"${PGDATA}\" as uid $(id -u)"
chmod 700 "${PGDATA}" 2>/dev/null || die "cannot chmod 700 PGDATA \"${PGDATA}\" as uid $(id -u)"
mkdir -p /run/postgresql 2>/dev/null || true

if [[ -s "${PGDATA}/PG_VERSION" ]]; then
  found="$(<"${PGDATA}/PG_VERSION")"
  if [[ "${found}" != "${major}" ]]; then
    die "PGDATA \"${PGDATA}\" holds a PostgreSQL ${found} data directory; this image runs PostgreSQL ${major} (refusing to start)"
  fi
else
  if [[ -z "${POSTGRES_PASSWORD:-}" && "${auth}" != "trust" ]]; then
    die "POSTGRES_PASSWORD is not set: set it (or POSTGRES_HOST_AUTH_METHOD=trust) to initialise \"${PGDATA}\""
  fi
  if [[ -n "$(ls -A "${PGDATA}")" ]]; then
    die "PGDATA \"${PGDATA}\" is not empty and has no PG_VERSION: refusing to initialise it"
  fi
  pwfile="$(mktemp)"
  trap 'rm -f "${pwfile}"' EXIT
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"${pwfile}"
  pwopt=()
  [[ -n "${POSTGRES_PASSWORD:-}" ]] && pwopt=(--pwfile="${pwfile}")
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as in the official image.
  initdb --username="${user}" "${pwopt[@]}" --auth-local=trust --auth-host="${auth}" \
    --encoding=UTF8 ${POSTGRES_INITDB_ARGS:-} >&2
  rm -f "${pwfile}"
  trap - EXIT
  {
    echo
    echo "host all all all ${auth}"
  } >>"${PGDATA}/pg_hba.conf"
  {
    echo "listen_addresses = '*'"
    # The official image's socket directory first; /tmp is where these builds' clients look
    # by default (psql and pg_isready without -h).
    echo "unix_socket_directories = '/var/run/postgresql,/tmp'"
  } >>"${PGDATA}/postgresql.conf"

  # A private server on the unix socket only, to create the database and run init scripts.
  pg_ctl -D "${PGDATA}" -w -o "-c listen_addresses='' -k /run/postgresql" start >&2
  psqlq=(psql -v ON_ERROR_STOP=1 --no-psqlrc -h /run/postgresql -U "${user}" -q)
  if [[ "${db}" != "postgres" ]]; then
    exists="$("${psqlq[@]}" -d postgres -tA --set db="${db}" <<<"SELECT 1 FROM pg_database WHERE datname = :'db'")"
    if [[ "${exists}" != "1" ]]; then
      "${psqlq[@]}" -d postgres --set db="${db}" <<<'CREATE DATABASE :"db"' >&2
    fi
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "${f}" in
      *.sh) echo "running ${f}" >&2; bash "${f}" ;;
      *.sql) echo "running ${f}" >&2; "${psqlq[@]}" -d "${db}" -f "${f}" >&2 ;;
      *) ;;
    esac
  done
  pg_ctl -D "${PGDATA}" -m fast -w stop >&2
  echo "PostgreSQL ${major} init process complete; ready for start up" >&2
fi

exec "$@"
