#!/usr/bin/env bash
# Runs a command with TEST_DATABASE_URL pointing at a PostgreSQL server.
#
#   scripts/test-postgres.sh cargo test --workspace
#
# It also exports BOOKING_REQUIRE_POSTGRES=1: the Postgres tests then fail,
# rather than being ignored, when they find no database (tests/build.rs).
#
# When TEST_DATABASE_URL is already set, the command just runs. Otherwise this
# script makes sure PostgreSQL (with btree_gist) is installed (apt-get on
# Debian when missing), starts a throw-away cluster of its own for this run (a
# fresh directory from mktemp under /tmp, and a free port below the ephemeral
# range, or $TEST_PG_PORT), creates the role and database, runs the command,
# then stops the cluster and removes its directory. Runs at the same time on
# one machine never share a cluster.
#
# The cluster runs with ssl=on: openssl makes a throw-away CA and a server
# certificate signed by it for 127.0.0.1 and localhost (IP and DNS names in
# subjectAltName), in the run's directory. Plain connections still work (the
# existing tests connect without TLS); the TLS tests connect with
# sslmode=verify-full and trust that CA, whose file the script exports as
#
#   TEST_DATABASE_SSLROOTCERT=<run dir>/tls/ca.crt
#
# With a TEST_DATABASE_URL of your own, set TEST_DATABASE_SSLROOTCERT too (a
# PEM file of the CA that signed your server's certificate, which must name
# the host of the URL): without it the TLS tests fail under CI=true or
# BOOKING_REQUIRE_POSTGRES, and are listed as ignored otherwise.
set -euo pipefail

export BOOKING_REQUIRE_POSTGRES=1

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  exec "$@"
fi

die() {
  echo "test-postgres: $*" >&2
  exit 1
}

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
  bin=$(find_bin) || die "PostgreSQL is still missing after apt-get install postgresql"
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

# Outside the checkout: the postgres user must be able to reach it even when
# the checkout lives in a directory only root can enter. One per run.
base=$(mktemp -d /tmp/booking-test-postgres.XXXXXX) || die "mktemp failed"
data="$base/data"
log="$base/server.log"
started=0

cleanup() {
  if [ "$started" -eq 1 ]; then
    as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$base"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

chmod 700 "$base"
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$base"; fi
as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null \
  || die "initdb failed in $data"

# TLS: a CA, and a server certificate it signed for 127.0.0.1 and localhost.
# The server refuses a key readable by others: 0600, owned by postgres.
tls="$base/tls"
mkdir "$tls"
if ! command -v openssl >/dev/null; then
  echo "test-postgres: openssl not found; installing it with apt-get" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssl >/dev/null
  command -v openssl >/dev/null || die "openssl is still missing after apt-get install openssl"
fi
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 \
  -days 3650 -subj "/CN=booking-api test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null || die "openssl could not make the test CA"
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 \
  -subj "/CN=127.0.0.1" -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null \
  || die "openssl could not make the server key"
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$tls/server.ext"
openssl x509 -req -sha256 -days 3650 -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
  -CAcreateserial -extfile "$tls/server.ext" -out "$tls/server.crt" 2>/dev/null \
  || die "openssl could not sign the server certificate"
chmod 600 "$tls/server.key" "$tls/ca.key"
chmod 644 "$tls/ca.crt" "$tls/server.crt"
if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$tls"; fi

# Whether something accepts connections on 127.0.0.1:$1.
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port per run: below the ephemeral range (32768-60999 on Linux), so no
# outgoing connection of a busy test run holds it; tried again with another
# one if it is taken between the check and the server's bind. Tests are not
# benchmarks: durability is off, unless TEST_PG_DURABLE=1 (what
# scripts/bench-http.sh asks for): then fsync, synchronous_commit and
# full_page_writes keep PostgreSQL's defaults (on), as production runs, and
# every commit waits for its WAL flush.
if [ "${TEST_PG_DURABLE:-0}" = 1 ]; then
  durability=""
else
  durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
attempts=${TEST_PG_PORT:+1}
attempts=${attempts:-20}
port=
for _ in $(seq "$attempts"); do
  candidate=${TEST_PG_PORT:-$((20000 + RANDOM % 12000))}
  if in_use "$candidate" || "$bin/pg_isready" -q -h 127.0.0.1 -p "$candidate"; then
    continue
  fi
  rm -f "$log"
  if as_pg "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 start -o \
    "-h 127.0.0.1 -p $candidate -k $base $durability -c max_connections=300 -c shared_buffers=128MB -c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key" >/dev/null; then
    started=1
    port=$candidate
    break
  fi
  if ! grep -qiE 'could not bind|address already in use|could not create lock file' "$log"; then
    cat "$log" >&2 || true
    die "the cluster in $data did not start (log above)"
  fi
done
[ -n "$port" ] || die "no free port for PostgreSQL after $attempts attempts${TEST_PG_PORT:+ (TEST_PG_PORT=$TEST_PG_PORT)}"

psql_admin() { "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_admin -c "CREATE ROLE booking LOGIN SUPERUSER PASSWORD 'booking'"
psql_admin -c "CREATE DATABASE booking OWNER booking"

export TEST_DATABASE_URL="postgres://booking:booking@127.0.0.1:$port/booking"
export TEST_DATABASE_SSLROOTCERT="$tls/ca.crt"
echo "test-postgres: TEST_DATABASE_URL=$TEST_DATABASE_URL (cluster in $base, ssl=on, CA $TEST_DATABASE_SSLROOTCERT)" >&2
set +e
"$@"
status=$?
set -e
exit $status
