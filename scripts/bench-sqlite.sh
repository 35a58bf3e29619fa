#!/usr/bin/env bash
# Booking creation on the embedded SQLite store (part of `make bench`; not a
# test): `POST /v1/bookings` at 16 and 64 concurrent clients through a
# release server on a fresh database file (every request a real insert into
# its own 15-minute slot), without and with one write-back connection on
# the booked provider, and with one webhook endpoint (booking.created)
# instead (each row on its own copy of the same file), next to a single-connection baseline of the same
# transaction (scripts/bench/sqlite-baseline.py: one BEGIN IMMEDIATE ...
# COMMIT per booking, no HTTP) run on the same file in the same run; and a
# hold then its booking with hold_id at 16 clients (issue 16), between two
# plain 16-client runs on the file as it then stands.
# Needs wrk (installed with apt when missing) and python3.
#
# The calendar sink stands in for Google or a CalDAV server, which run on
# another machine: here it runs at nice BENCH_SINK_NICE (default 19, the
# lowest priority), so its CPU is not taken from the server; BENCH_SINK_NICE=0
# runs it as the server (the second figure docs/performance.md reports).
# After each write-back run the script waits until the sink holds every
# booking's event and prints how long that took (the outbox's drain time).
# Each creation row also gives the server's CPU time per booking (whole
# process, and its SQLite writer thread), read from /proc around the run.
# BENCH_BIN: a server binary to run instead of building this tree's (an A/B
# of two builds with the same script); BENCH_ONLY=writeback: only the
# write-back rows.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
DURATION=${BENCH_DURATION:-10}
PORT=${BENCH_PORT:-18182}

if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN
else
  cargo build --release -q -p booking-server --bin booking-api
  BIN=${CARGO_TARGET_DIR:-target}/release/booking-api
fi
mkdir -p target

dir=$(mktemp -d)
db=$dir/bench.db
export DATABASE_URL=sqlite://$db
$BIN migrate >/dev/null
KEY=$($BIN keys create --account bench | grep '^sk_')
export KEY

SINK_PORT=${BENCH_SINK_PORT:-18184}
SINK_NICE=${BENCH_SINK_NICE:-19}
nice -n "$SINK_NICE" python3 scripts/bench/calendar-sink.py "$SINK_PORT" &
sink=$!
# Private targets allowed: the write-back variant writes to the local sink.
start_server() {
  BOOKING_BIND=127.0.0.1:$PORT BOOKING_RATE_BOOKINGS=1000000/second BOOKING_LOG=warn \
    BOOKING_WEBHOOK_ALLOW_PRIVATE=true $BIN serve 2>>target/bench-sqlite-server.log &
  server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
}
stop_server() { kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; }
: >target/bench-sqlite-server.log
start_server
trap 'kill $server $sink 2>/dev/null || true; wait $server $sink 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SINK_PORT/count" >/dev/null && break; sleep 0.1; done

api() { curl -sf "http://127.0.0.1:$PORT$1" -H "Authorization: Bearer $KEY" "${@:2}"; }
all_days='["monday","tuesday","wednesday","thursday","friday","saturday","sunday"]'
api /v1/services -d '{"id":"srv_quarter","name":"Quarter","duration":15,"price":{"amount":10,"currency":"USD","type":"flat"},"availability":{"days":'"$all_days"',"hours":{"start":"00:00","end":"24:00"},"timezone":"UTC"}}' >/dev/null
# The write-back variant: a provider whose bookings are written into a
# calendar (a CalDAV connection to the local sink).
writer=$(api /v1/providers -d '{"name":"Writeback"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
api /v1/services -d '{"id":"srv_quarter_w","name":"Quarter (write-back)","duration":15,"provider_id":"'"$writer"'","price":{"amount":10,"currency":"USD","type":"flat"},"availability":{"days":'"$all_days"',"hours":{"start":"00:00","end":"24:00"},"timezone":"UTC"}}' >/dev/null
api "/v1/providers/$writer/calendars" -d '{"type":"caldav","url":"http://127.0.0.1:'"$SINK_PORT"'/cal/","username":"bench","password":"bench","write":true}' >/dev/null

result() { grep '^RESULT' | sed 's/RESULT //'; }
# written_after WANT: see scripts/bench/sink-wait.sh.
. scripts/bench/sink-wait.sh
# Bookings of the write-back service in the database file now.
written_bookings() {
  python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM bookings WHERE service_id = ?", ("srv_quarter_w",)).fetchone()[0])' "$db"
}
rps() { awk -v r="$1" -v d="$2" 'BEGIN { printf "%.0f", r / (d / 1e6) }'; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# Every creation row below runs on its own copy of this file (the fixtures
# above and nothing else), through a server started on it: a row with
# write-back and one without see the same file, not one grown by the rows
# before it (SQLite inserts slow down as the file grows).
stop_server
cp "$db" "$dir/template.db"
for suffix in -wal -shm; do if [ -f "$db$suffix" ]; then cp "$db$suffix" "$dir/template.db$suffix"; fi; done
fresh() {
  stop_server
  rm -f "$db" "$db-wal" "$db-shm"
  cp "$dir/template.db" "$db"
  for suffix in -wal -shm; do if [ -f "$dir/template.db$suffix" ]; then cp "$dir/template.db$suffix" "$db$suffix"; fi; done
  start_server
  # Warm-up, not measured: the read pool opens its connections (RUN=9:
  # slots no measured run uses).
  RUN=9 wrk -t2 -c16 -d2s -s scripts/bench/create-bookings.lua "http://127.0.0.1:$PORT" >/dev/null
}

# The server's CPU time so far, whole process and its SQLite writer thread,
# in clock ticks ("PROCESS WRITER"), from /proc: what a run costs the
# server per booking, a figure the disk's varying fsync latency (which
# moves bookings/s by ±15 % here) hardly touches.
server_cpu() {
  local writer
  writer=$(grep -l '^sqlite-writer' /proc/$server/task/*/comm | head -n 1)
  echo "$(awk '{ print $14 + $15 }' /proc/$server/stat) $(awk '{ print $14 + $15 }' "${writer%/comm}/stat")"
}
# per_booking BEFORE AFTER N: microseconds of CPU per booking, process and
# writer thread ("PROCESS WRITER").
per_booking() {
  local tick; tick=$(getconf CLK_TCK)
  awk -v b="$1" -v a="$2" -v n="$3" -v t="$tick" 'BEGIN { split(b, x, " "); split(a, y, " "); printf "%.0f %.0f", (y[1] - x[1]) * 1e6 / t / n, (y[2] - x[2]) * 1e6 / t / n }'
}

# Without and with one write-back connection on the booked provider, side by
# side at each concurrency: with it, each booking also queues its calendar
# write in its transaction, which the server's worker sends to the sink
# meanwhile.
echo
echo "## Booking creation on SQLite, without and with one write-back connection, and with one webhook endpoint instead (${DURATION}s each, each row on a fresh copy of the same file; sink at nice $SINK_NICE)"
printf '| clients | write-back | API bookings/s | API p50 ms | API p99 ms | non-2xx | with / without | all written after s | server CPU µs per booking | of it, writer thread |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
run=0
made=0
for c in 16 64; do
  without=0
  for service in srv_quarter srv_quarter_w webhook; do
    fresh
    # The webhook row: plain bookings, each delivered as booking.created
    # to one endpoint (the sink answers its POSTs 200): the outbox the
    # issue names as write-back's model, measured the same way.
    if [ "$service" = webhook ]; then
      api /v1/webhooks -d '{"url":"http://127.0.0.1:'"$SINK_PORT"'/hook","events":["booking.created"]}' >/dev/null
    fi
    read -r before_events _ <<<"$(curl -sf "http://127.0.0.1:$SINK_PORT/count")"
    cpu_before=$(server_cpu)
    r=$(RUN=$run SERVICE=${service/webhook/srv_quarter} wrk -t2 -c$c -d${DURATION}s --latency -s scripts/bench/create-bookings.lua "http://127.0.0.1:$PORT" | result)
    cpu_after=$(server_cpu)
    run=$((run + 1))
    got=$(rps "$(field "$r" requests)" "$(field "$r" duration_us)")
    cpu=$(per_booking "$cpu_before" "$cpu_after" "$(field "$r" requests)")
    drain=
    if [ "$service" = srv_quarter ]; then
      without=$got; label=no; ratio=
    elif [ "$service" = webhook ]; then
      label="no (one webhook endpoint instead)"; ratio=$(awk -v a="$got" -v b="$without" 'BEGIN { printf "%.2f", a / b }')
    else
      label=yes; ratio=$(awk -v a="$got" -v b="$without" 'BEGIN { printf "%.2f", a / b }')
      made=$((made + $(field "$r" requests) - $(field "$r" errors_status)))
      # Every booking's event reaches the sink before the server stops:
      # how long after the run that took.
      drain=$(written_after $((before_events + $(written_bookings))))
    fi
    echo "| $c | $label | $got | $(field "$r" p50_ms) | $(field "$r" p99_ms) | $(field "$r" errors_status) | $ratio | $drain | ${cpu% *} | ${cpu#* } |"
  done
done
read -r events puts <<<"$(curl -sf "http://127.0.0.1:$SINK_PORT/count")"
echo "(the sink holds $events events from $puts PUTs in all; wrk counted $made bookings, not those still in flight when it stopped; \"all written after\": from the end of the run until the sink held an event for every booking of the run)"
if [ "${BENCH_ONLY:-}" = writeback ]; then exit 0; fi
# Holds (issue 16): a hold then its booking with hold_id, at 16 clients,
# on a fresh copy too, between two plain 16-client booking runs on that
# copy: a pair should cost at most two bookings, so pairs/s at least half
# the plain bookings/s beside it.
fresh
echo
echo "## Hold then book with hold_id vs plain booking on SQLite, 16 clients (${DURATION}s each, in this order)"
printf '| case | bookings/s | requests/s | p50 ms | p99 ms | non-2xx |\n| --- | --- | --- | --- | --- | --- |\n'
# plain_row LABEL: one plain run, printed as a row; its bookings/s in $plain.
plain_row() {
  local r; r=$(RUN=$run wrk -t2 -c16 -d${DURATION}s --latency -s scripts/bench/create-bookings.lua "http://127.0.0.1:$PORT" | result)
  run=$((run + 1))
  plain=$(rps "$(field "$r" requests)" "$(field "$r" duration_us)")
  echo "| plain booking ($1) | $plain | $plain | $(field "$r" p50_ms) | $(field "$r" p99_ms) | $(field "$r" errors_status) |"
}
plain_row before
before=$plain
r=$(RUN=0 wrk -t2 -c16 -d${DURATION}s --latency -s scripts/bench/hold-then-book.lua "http://127.0.0.1:$PORT" | result)
pairs=$(rps "$(field "$r" pairs)" "$(field "$r" duration_us)")
echo "| hold, then book with hold_id | $pairs | $(rps "$(field "$r" requests)" "$(field "$r" duration_us)") | $(field "$r" p50_ms) | $(field "$r" p99_ms) | $(field "$r" errors_status) |"
plain_row after
awk -v a="$before" -v b="$plain" -v p="$pairs" 'BEGIN { if (p > 0) printf "(a pair costs %.2f plain bookings: the mean of the two plain rows over the pairs)\n", (a + b) / 2 / p }'

# The baseline on the same file, with the server stopped (so it has the CPU
# the server had).
kill $server 2>/dev/null || true
wait $server 2>/dev/null || true
account=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT id FROM accounts WHERE name = ?", ("bench",)).fetchone()[0])' "$db")
provider=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT provider_id FROM services WHERE id = ?", ("srv_quarter",)).fetchone()[0])' "$db")
b=$(python3 scripts/bench/sqlite-baseline.py "$db" "$account" "$provider" "$DURATION" | result)
echo
echo "Single-connection baseline (the same transaction, one per booking, python3 sqlite3, no HTTP): $(rps "$(field "$b" bookings)" "$(field "$b" duration_us)") bookings/s"
