#!/usr/bin/env bash
# Runs a command with TEST_DATABASE_URL pointing at a PostgreSQL server.
#
#   scripts/test-postgres.sh cargo test --workspace
#
# When TEST_DATABASE_URL is already set, the command just runs. Otherwise this
# script makes sure PostgreSQL (with btree_gist) is installed (apt-get on
# Debian when missing), starts a throw-away cluster under /tmp/booking-test-postgres-PORT
# on 127.0.0.1:${TEST_PG_PORT:-25432}, creates the role and database, runs the
# command, and stops the cluster again (unless it was already running).
set -euo pipefail

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  exec "$@"
fi

# Below the ephemeral port range (32768-60999 on Linux), so no outgoing
# connection of a busy test run can hold the port when the cluster starts.
port=${TEST_PG_PORT:-25432}
# Outside the checkout: the postgres user must be able to reach it even when
# the checkout lives in a directory only root can enter.
base=${TEST_PG_DIR:-/tmp/booking-test-postgres-$port}
data="$base/data"
log="$base/server.log"

find_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

bin=$(find_bin || true)
if [ -z "$bin" ]; then
  echo "test-postgres: PostgreSQL not found; installing it with apt-get" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  bin=$(find_bin)
fi

# initdb refuses to run as root: run the server as the postgres system user
# (created by the package) when we are root.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

mkdir -p "$base"
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$base"; fi

started_here=0
if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
  if [ ! -s "$data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
  fi
  as_pg "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 start -o \
    "-h 127.0.0.1 -p $port -k $base -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB" >/dev/null
  started_here=1
fi

stop() {
  if [ "$started_here" -eq 1 ]; then
    as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
  fi
}
trap stop EXIT

psql_admin() { "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'booking'")" != "1" ]; then
  psql_admin -c "CREATE ROLE booking LOGIN SUPERUSER PASSWORD 'booking'"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'booking'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE booking OWNER booking"
fi

export TEST_DATABASE_URL="postgres://booking:booking@127.0.0.1:$port/booking"
echo "test-postgres: TEST_DATABASE_URL=$TEST_DATABASE_URL" >&2
set +e
"$@"
status=$?
set -e
exit $status
