#!/usr/bin/env bash
# The postgres image's smoke test, run by build.sh inside the image's rootfs (read-only, as uid
# 999, tmpfs /tmp): the entrypoint initialises and starts a server on 127.0.0.1:PORT, the client
# tools of the same major talk to it, SIGINT stops it, and a data directory of another major is
# refused. Usage: smoke.sh MAJOR PORT
set -euo pipefail
major="$1"
port="$2"
fail() {
  echo "smoke: $*" >&2
  exit 1
}
postgres --version | sed 's/^postgres (PostgreSQL)/PostgreSQL/'
[[ "$(postgres --version)" =~ \)\ ${major}\. ]] || fail "postgres is not PostgreSQL ${major}"
for tool in psql pg_dump pg_restore pg_basebackup pg_rewind pg_isready pg_controldata pg_ctl initdb; do
  v="$("${tool}" --version)" || fail "${tool} --version failed"
  [[ "${v}" =~ \)\ ${major}\. ]] || fail "${tool} is not of major ${major}: ${v}"
  echo "${v}"
done
[[ "$(id -u):$(id -g)" == "999:999" ]] || fail "not running as 999:999"
# A standby's WAL receiver is a module the server loads: its libpq must resolve in the image.
lib="/usr/lib/postgresql/${major}/lib"
[[ -f "${lib}/libpqwalreceiver.so" ]] || fail "no libpqwalreceiver.so in ${lib}"
if ldd "${lib}/libpqwalreceiver.so" | grep -q "not found"; then
  ldd "${lib}/libpqwalreceiver.so" >&2
  fail "libpqwalreceiver.so has unresolved libraries (a standby could not stream)"
fi

export PGDATA=/tmp/pgdata POSTGRES_PASSWORD=smoke-secret POSTGRES_USER=postgres POSTGRES_DB=app
docker-entrypoint.sh postgres -c port="${port}" -c listen_addresses=127.0.0.1 &
pid=$!
for _ in $(seq 1 100); do
  pg_isready -q -h 127.0.0.1 -p "${port}" -U postgres && break
  kill -0 "${pid}" 2>/dev/null || fail "the server exited during start"
  sleep 0.2
done
pg_isready -h 127.0.0.1 -p "${port}" -U postgres
pg_isready -q -h /var/run/postgresql -p "${port}" || fail "no socket in /var/run/postgresql"
[[ "$(psql -p "${port}" -U postgres -d app -tAc 'SELECT 1')" == "1" ]] || fail "psql without -h does not connect"
[[ "$(stat -c %a "${PGDATA}")" == "700" ]] || fail "PGDATA is not 0700"
export PGPASSWORD=smoke-secret
psql -h 127.0.0.1 -p "${port}" -U postgres -d app -v ON_ERROR_STOP=1 -tAc 'SELECT version()'
psql -h 127.0.0.1 -p "${port}" -U postgres -d app -v ON_ERROR_STOP=1 -qc 'CREATE TABLE t (x int); INSERT INTO t VALUES (1)'
if PGPASSWORD=wrong psql -h 127.0.0.1 -p "${port}" -U postgres -d app -c 'SELECT 1' >/dev/null 2>&1; then
  fail "a wrong password was accepted on a host connection"
fi
pg_dump -h 127.0.0.1 -p "${port}" -U postgres -d app -Fc -f /tmp/app.dump
pg_restore --list /tmp/app.dump | grep -q 'TABLE public t' || fail "pg_restore does not list table t"
pg_controldata "${PGDATA}" | grep -q 'in production' || fail "pg_controldata does not say in production"
kill -INT "${pid}"
wait "${pid}" || fail "postgres did not exit cleanly on SIGINT"
echo "fast shutdown on SIGINT: ok"

# A second start keeps the data and fixes the mode the kubelet's fsGroup would leave.
chmod 2770 "${PGDATA}"
docker-entrypoint.sh postgres -c port="${port}" -c listen_addresses=127.0.0.1 &
pid=$!
for _ in $(seq 1 100); do pg_isready -q -h 127.0.0.1 -p "${port}" && break; sleep 0.2; done
[[ "$(psql -h 127.0.0.1 -p "${port}" -U postgres -d app -tAc 'SELECT x FROM t')" == "1" ]] ||
  fail "the row is gone after a restart"
kill -INT "${pid}"
wait "${pid}" || fail "postgres did not exit cleanly on SIGINT"
echo "restart with a g+rwxs PGDATA: ok"

# A data directory of another major: one line, non-zero exit, no server.
mkdir -p /tmp/other && chmod 700 /tmp/other
echo $((major == 14 ? 15 : major - 1)) >/tmp/other/PG_VERSION
if out="$(PGDATA=/tmp/other docker-entrypoint.sh postgres -c port="${port}" 2>&1)"; then
  fail "the entrypoint started on a data directory of another major"
fi
[[ "${out}" == *"refusing to start"* && "$(wc -l <<<"${out}")" == "1" ]] || fail "unexpected refusal: ${out}"
echo "other major refused: ${out}"
echo "smoke test of PostgreSQL ${major}: ok"
