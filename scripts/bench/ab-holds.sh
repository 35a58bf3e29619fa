#!/usr/bin/env bash
# A/B of issue 16's hold pair between two server binaries, side by side on
# one PostgreSQL cluster (durable when scripts/test-postgres.sh starts it
# with TEST_PG_DURABLE=1, as bench-http.sh does): each binary gets its own
# database and server, both first take the same unmeasured burst of plain
# bookings at 64 clients (so the hold runs meet a grown table, as in
# bench-http.sh, where they come after the creation runs), then each round
# runs, per binary, bench-http.sh's hold section: plain booking creation,
# hold then book with hold_id, plain creation again, all at 16 clients,
# each after a VACUUM (ANALYZE). The binaries alternate within a round and
# swap order between rounds, so both see the same machine load.
#
# Usage: TEST_PG_DURABLE=1 scripts/test-postgres.sh scripts/bench/ab-holds.sh BIN_A BIN_B [ROUNDS]
# (BENCH_DURATION seconds per run, default 8). Prints, per round and
# binary, plain before, pairs/s, plain after and what a pair costs (the
# mean of the two plain rows over the pairs), and the CPU a pair takes
# against a plain booking (the mean of the two plain runs), inside this
# cluster (its postmaster, its backends and the children it reaped) and in
# the binary's server: CPU time is less at the mercy of other work on a
# shared machine than throughput is (it does not count the time spent
# waiting for a core or for the disk).
#
# AB_SQL_A / AB_SQL_B: a SQL file run on that side's database after its
# migrations, e.g. one migration's down.sql, to compare two schemas with
# one binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
A=$1 B=$2 ROUNDS=${3:-3}
# Each round uses create-bookings.lua's slots of RUN=2r and 2r+1; RUN=9 is
# the fill's.
[ "$ROUNDS" -le 4 ] || { echo "at most 4 rounds" >&2; exit 2; }
DURATION=${BENCH_DURATION:-8}
POOL=${BENCH_POOL:-$(( $(nproc) * 4 > 4 ? $(nproc) * 4 : 4 ))}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
mkdir -p target
admin=$TEST_DATABASE_URL
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT

start() { # name bin port -> KEY_<name>, URL_<name>
  local name=$1 bin=$2 port=$3 db=abh_$1
  psql "$admin" -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  local url="${admin%/*}/$db"
  export BOOKING_SECRET_KEY; BOOKING_SECRET_KEY=$(openssl rand -base64 32)
  DATABASE_URL=$url $bin migrate >/dev/null
  local extra_var="AB_SQL_${name^^}"
  if [ -n "${!extra_var:-}" ]; then psql "$url" -q -v ON_ERROR_STOP=1 -f "${!extra_var}" >/dev/null; fi
  local key; key=$(DATABASE_URL=$url $bin keys create --account bench | grep '^sk_')
  DATABASE_URL=$url BOOKING_BIND=127.0.0.1:$port BOOKING_RATE_BOOKINGS=1000000/second BOOKING_LOG=warn \
    BOOKING_DB_POOL_SIZE=$POOL $bin serve 2>"target/ab-holds-$name.log" &
  pids+=($!)
  printf -v "PID_$name" '%s' "$!"
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/v1/services" -H "Authorization: Bearer $key" \
    -d '{"id":"srv_quarter","name":"Quarter","duration":15,"price":{"amount":10,"currency":"USD","type":"flat"},"availability":{"days":["monday","tuesday","wednesday","thursday","friday","saturday","sunday"],"hours":{"start":"00:00","end":"24:00"},"timezone":"UTC"}}' >/dev/null
  # Warm-up and fill, not measured (RUN=9: slots no measured run uses).
  KEY=$key RUN=9 wrk -t2 -c64 -d"${DURATION}s" -s scripts/bench/create-bookings.lua "http://127.0.0.1:$port" >/dev/null
  printf -v "KEY_$name" '%s' "$key"
  printf -v "URL_$name" '%s' "$url"
}

# This cluster's postmaster (the one listening on the URL's port).
port=$(echo "$admin" | sed 's|.*:\([0-9]*\)/.*|\1|')
postmaster=$(pgrep -f -- "postgres -D .* -p $port( |$)" | head -n 1)
[ -n "$postmaster" ] || { echo "no postmaster for port $port" >&2; exit 1; }
# cpu SERVER_PID: CPU ticks (1/100 s) used so far by the cluster and by the server.
cpu() {
  local pg=0 api=0 p stat f
  for p in /proc/[0-9]*; do
    stat=$(cat "$p/stat" 2>/dev/null) || continue
    read -r -a f <<<"${stat##*) }"
    if [ "${p#/proc/}" = "$postmaster" ]; then
      pg=$((pg + f[11] + f[12] + f[13] + f[14]))
    elif [ "${f[1]}" = "$postmaster" ]; then
      pg=$((pg + f[11] + f[12]))
    elif [ "${p#/proc/}" = "$1" ]; then
      api=$((f[11] + f[12]))
    fi
  done
  echo "$pg $api"
}

start a "$A" 18195
start b "$B" 18196
echo "A = $A"
echo "B = $B"
echo "load before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '| round | binary | plain before /s | pairs/s (p99 ms) | plain after /s | a pair costs | Postgres CPU ms: booking, pair (ratio) | server CPU ms: booking, pair (ratio) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n'
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
rps() { awk -v r="$1" -v d="$2" 'BEGIN { printf "%.0f", r / (d / 1e6) }'; }
run=0
one() { # name port key url server_pid
  local name=$1 port=$2 key=$3 url=$4 pid=$5 r before pairs p99 after c0 c1 made=0 pairs_made
  local pg_plain=0 api_plain=0 pg_pair api_pair
  psql "$url" -qAt -c "VACUUM (ANALYZE)" >/dev/null
  read -r -a c0 < <(cpu "$pid")
  r=$(KEY=$key RUN=$run wrk -t2 -c16 -d"${DURATION}s" -s scripts/bench/create-bookings.lua "http://127.0.0.1:$port" | sed -n 's/^RESULT //p')
  read -r -a c1 < <(cpu "$pid")
  before=$(rps "$(field "$r" requests)" "$(field "$r" duration_us)")
  made=$((made + $(field "$r" requests) - $(field "$r" errors_status)))
  pg_plain=$((pg_plain + c1[0] - c0[0])) api_plain=$((api_plain + c1[1] - c0[1]))
  psql "$url" -qAt -c "VACUUM (ANALYZE)" >/dev/null
  read -r -a c0 < <(cpu "$pid")
  r=$(KEY=$key RUN=$run wrk -t2 -c16 -d"${DURATION}s" --latency -s scripts/bench/hold-then-book.lua "http://127.0.0.1:$port" | sed -n 's/^RESULT //p')
  read -r -a c1 < <(cpu "$pid")
  pairs=$(rps "$(field "$r" pairs)" "$(field "$r" duration_us)")
  p99=$(field "$r" p99_ms)
  # The run's CPU over its pairs (holds whose booking was still to come
  # when it stopped are charged to the pairs: a few of thousands).
  pairs_made=$(field "$r" pairs)
  pg_pair=$((c1[0] - c0[0])) api_pair=$((c1[1] - c0[1]))
  psql "$url" -qAt -c "VACUUM (ANALYZE)" >/dev/null
  read -r -a c0 < <(cpu "$pid")
  r=$(KEY=$key RUN=$((run + 1)) wrk -t2 -c16 -d"${DURATION}s" -s scripts/bench/create-bookings.lua "http://127.0.0.1:$port" | sed -n 's/^RESULT //p')
  read -r -a c1 < <(cpu "$pid")
  after=$(rps "$(field "$r" requests)" "$(field "$r" duration_us)")
  made=$((made + $(field "$r" requests) - $(field "$r" errors_status)))
  pg_plain=$((pg_plain + c1[0] - c0[0])) api_plain=$((api_plain + c1[1] - c0[1]))
  echo "| $round | $name | $before | $pairs ($p99) | $after | $(awk -v a="$before" -v b="$after" -v p="$pairs" 'BEGIN { if (p > 0) printf "%.2f", (a + b) / 2 / p }') | $(awk -v n="$made" -v p="$pairs_made" -v b="$pg_plain" -v q="$pg_pair" 'BEGIN { if (n > 0 && p > 0 && b > 0) printf "%.2f, %.2f (%.2f)", b * 10 / n, q * 10 / p, (q / p) / (b / n) }') | $(awk -v n="$made" -v p="$pairs_made" -v b="$api_plain" -v q="$api_pair" 'BEGIN { if (n > 0 && p > 0 && b > 0) printf "%.2f, %.2f (%.2f)", b * 10 / n, q * 10 / p, (q / p) / (b / n) }') |"
}
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="a b"; else order="b a"; fi
  for name in $order; do
    if [ "$name" = a ]; then one A 18195 "$KEY_a" "$URL_a" "$PID_a"; else one B 18196 "$KEY_b" "$URL_b" "$PID_b"; fi
  done
  run=$((run + 2))
done
echo "load after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
