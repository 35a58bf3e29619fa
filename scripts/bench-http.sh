#!/usr/bin/env bash
# HTTP load benchmark on Postgres (part of `make bench`; not a test).
#
# Booking creation through the API at 16 and 64 concurrent clients, next to
# two inserts pgbench runs directly at the same concurrency in the same run:
# the project's own (booking row + event row in one transaction, through the
# project's schema: scripts/bench/insert-booking.sql) and the lean reference
# (one booking row through an exclusion constraint plus one event row, spread
# over 100 providers: scripts/bench/lean-insert.sql); then availability reads.
# Then a hold and its booking with hold_id at 16 clients, next to plain
# booking creation in the same run.
# Needs wrk and pgbench (installed with apt when missing) and a PostgreSQL
# server: TEST_DATABASE_URL, or the throw-away one scripts/test-postgres.sh
# starts. That one is durable (fsync, synchronous_commit and full_page_writes
# on, as production runs) unless BENCH_FSYNC=off, the second opinion.
#
# The calendar sink stands in for Google or a CalDAV server, which run on
# another machine: here it runs at nice BENCH_SINK_NICE (default 19, the
# lowest priority), so its CPU is not taken from the server; BENCH_SINK_NICE=0
# runs it as the server (the second figure docs/performance.md reports).
# After each write-back run the script waits until the sink holds every
# booking's event and prints how long that took (the outbox's drain time).
# BENCH_BIN: a server binary to run instead of building this tree's (an A/B
# of two builds with the same script); BENCH_ONLY=creation, writeback,
# holds or reads: only that section (creation: the rows beside pgbench).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if [ "${BENCH_FSYNC:-on}" = off ]; then durable=0; else durable=1; fi
  TEST_PG_DURABLE=$durable exec scripts/test-postgres.sh "$0" "$@"
fi
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
PGBENCH=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -n 1)
DURATION=${BENCH_DURATION:-10}
# The server's pool, sized as docs/operations.md advises: 4 connections per
# core of the database's machine (this one), at least 4.
POOL=${BENCH_POOL:-$(( $(nproc) * 4 > 4 ? $(nproc) * 4 : 4 ))}
PORT=${BENCH_PORT:-18181}

if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN
else
  cargo build --release -q -p booking-server --bin booking-api
  BIN=${CARGO_TARGET_DIR:-target}/release/booking-api
fi
mkdir -p target

admin=$TEST_DATABASE_URL
db=booking_bench
psql "$admin" -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
DB_URL="${admin%/*}/$db"

export DATABASE_URL=$DB_URL
# Postgres needs the key that encrypts secrets at rest; a fresh one per run.
BOOKING_SECRET_KEY=$(openssl rand -base64 32)
export BOOKING_SECRET_KEY
$BIN migrate >/dev/null
KEY=$($BIN keys create --account bench | grep '^sk_')
export KEY

SINK_PORT=${BENCH_SINK_PORT:-18183}
SINK_NICE=${BENCH_SINK_NICE:-19}
nice -n "$SINK_NICE" python3 scripts/bench/calendar-sink.py "$SINK_PORT" &
sink=$!
# Private targets allowed: the write-back variant writes to the local sink.
BOOKING_BIND=127.0.0.1:$PORT BOOKING_RATE_BOOKINGS=1000000/second BOOKING_LOG=warn \
  BOOKING_WEBHOOK_ALLOW_PRIVATE=true BOOKING_DB_POOL_SIZE=$POOL $BIN serve 2>target/bench-server.log &
server=$!
trap 'kill $server $sink 2>/dev/null || true; wait $server $sink 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

api() { curl -sf "http://127.0.0.1:$PORT$1" -H "Authorization: Bearer $KEY" "${@:2}"; }
all_days='["monday","tuesday","wednesday","thursday","friday","saturday","sunday"]'
api /v1/services -d '{"id":"srv_quarter","name":"Quarter","duration":15,"price":{"amount":10,"currency":"USD","type":"flat"},"availability":{"days":'"$all_days"',"hours":{"start":"00:00","end":"24:00"},"timezone":"UTC"}}' >/dev/null
api /v1/services -d '{"id":"srv_consultation","name":"1-Hour Consultation","duration":60,"price":{"amount":150,"currency":"USD","type":"hourly"},"availability":{"days":["monday","tuesday","wednesday","thursday","friday"],"hours":{"start":"09:00","end":"17:00"},"timezone":"America/New_York"}}' >/dev/null
# The write-back variant: a provider whose bookings are written into a
# calendar (a CalDAV connection to the local sink).
writer=$(api /v1/providers -d '{"name":"Writeback"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
api /v1/services -d '{"id":"srv_quarter_w","name":"Quarter (write-back)","duration":15,"provider_id":"'"$writer"'","price":{"amount":10,"currency":"USD","type":"flat"},"availability":{"days":'"$all_days"',"hours":{"start":"00:00","end":"24:00"},"timezone":"UTC"}}' >/dev/null
api "/v1/providers/$writer/calendars" -d '{"type":"caldav","url":"http://127.0.0.1:'"$SINK_PORT"'/cal/","username":"bench","password":"bench","write":true}' >/dev/null
dense_provider=$(api /v1/providers -d '{"name":"Dense"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
api /v1/services -d '{"id":"srv_dense","name":"Dense","duration":15,"provider_id":"'"$dense_provider"'","price":{"amount":10,"currency":"USD","type":"flat"},"availability":{"days":'"$all_days"',"hours":{"start":"00:00","end":"24:00"},"timezone":"UTC"}}' >/dev/null

# Fixtures for the reads: the seed service with 40 bookings in January 2029,
# the dense service with 1,000 bookings in one 31-day window.
python3 scripts/bench/read-fixtures.py "$PORT" "$KEY"

# Real opening hours (issue 14): three windows a day Monday to Saturday,
# 20 date overrides and 30 time-off ranges in May 2029, and 300 bookings.
hours_provider=$(api /v1/providers -d '{"name":"Hours"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
python3 - "$PORT" "$KEY" "$hours_provider" <<'PY'
import datetime, json, sys, urllib.error, urllib.request
port, key, provider = sys.argv[1], sys.argv[2], sys.argv[3]
def post(path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {key}"})
    return json.load(urllib.request.urlopen(req))
day_windows = [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"},
               {"start": "18:00", "end": "21:00"}]
weekly = {d: day_windows for d in ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]}
overrides = []
for i in range(20):
    date = datetime.date(2029, 5, 1) + datetime.timedelta(days=i + (i // 2))
    hours = [] if i % 2 else [{"start": "10:00", "end": "14:00"}, {"start": "15:00", "end": "19:00"}]
    overrides.append({"date": date.isoformat(), "hours": hours})
post("/v1/services", {"id": "srv_hours", "name": "Hours", "duration": 30, "slot_interval": 15,
     "provider_id": provider, "price": {"amount": 40, "currency": "USD", "type": "flat"},
     "availability": {"weekly": weekly, "overrides": overrides, "timezone": "Europe/Paris"}})
for i in range(30):
    start = datetime.datetime(2029, 5, 1, 9) + datetime.timedelta(hours=23 * i)
    post(f"/v1/providers/{provider}/time-off",
         {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
          "end": (start + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")})
made, at = 0, datetime.datetime(2029, 5, 1, 6)
while made < 300 and at < datetime.datetime(2029, 6, 1):
    try:
        post("/v1/bookings", {"service": "srv_hours", "scheduled_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "customer": {"email": "f@example.com", "name": "Fixture"}})
        made += 1
    except urllib.error.HTTPError:
        pass  # closed, off or taken: the next time
    at += datetime.timedelta(minutes=75)
PY

# A round-robin team (issue 15): 10 providers, 30-minute slots 08:00-20:00
# UTC every day, 1,000 bookings in July 2029 spread over them by the
# assignment rule.
python3 - "$PORT" "$KEY" <<'PY'
import datetime, json, sys, urllib.error, urllib.request
port, key = sys.argv[1], sys.argv[2]
def post(path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {key}"})
    return json.load(urllib.request.urlopen(req))
team = [post("/v1/providers", {"name": f"Team {i}"})["id"] for i in range(10)]
days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
post("/v1/services", {"id": "srv_team", "name": "Team", "duration": 30,
     "provider_ids": team, "assignment": "round_robin",
     "price": {"amount": 40, "currency": "USD", "type": "flat"},
     "availability": {"days": days, "hours": {"start": "08:00", "end": "20:00"}, "timezone": "UTC"}})
made, i = 0, 0
while made < 1000:
    # 24 slots a day over 31 days; each slot taken by up to 10 bookings.
    at = datetime.datetime(2029, 7, 1, 8) + datetime.timedelta(days=i % 31, minutes=30 * ((i * 7) % 24))
    try:
        post("/v1/bookings", {"service": "srv_team", "scheduled_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "customer": {"email": "f@example.com", "name": "Fixture"}})
        made += 1
    except urllib.error.HTTPError:
        pass
    i += 1
PY

# The pgbench script with this database's account and default provider.
account=$(psql "$DB_URL" -qAt -c "SELECT id FROM accounts WHERE name = 'bench'")
provider=$(psql "$DB_URL" -qAt -c "SELECT provider_id FROM services WHERE account_id = '$account' AND id = 'srv_quarter'")
psql "$DB_URL" -qAt -c "CREATE SEQUENCE IF NOT EXISTS pgbench_slot"
pgbench_sql=$(mktemp --suffix=.sql)
sed -e "s/ACCOUNT/$account/g" -e "s/PROVIDER/$provider/g" scripts/bench/insert-booking.sql >"$pgbench_sql"
# The lean reference's tables: the least a booking insert must write.
psql "$DB_URL" -qAt >/dev/null <<'SQL'
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE SEQUENCE lean_slot;
CREATE TABLE lean_bookings (
    id             BIGINT    PRIMARY KEY,
    provider_id    TEXT      NOT NULL,
    during         INT8RANGE NOT NULL,
    status         TEXT      NOT NULL,
    customer_email TEXT      NOT NULL,
    created_at     BIGINT    NOT NULL,
    EXCLUDE USING gist (provider_id WITH =, during WITH &&)
);
CREATE TABLE lean_events (
    id         BIGSERIAL PRIMARY KEY,
    booking_id BIGINT    NOT NULL REFERENCES lean_bookings (id),
    kind       TEXT      NOT NULL,
    payload    JSONB     NOT NULL
);
SQL
fsync=$(psql "$DB_URL" -qAt -c "SHOW fsync")
sync_commit=$(psql "$DB_URL" -qAt -c "SHOW synchronous_commit")

result() { grep '^RESULT' | sed 's/RESULT //'; }
# Every measured run starts from a vacuumed, analysed database: otherwise the
# first run pays for the autovacuum and autoanalyze of the fixtures and of
# the runs before it (seen as 20-30 % less throughput and a p99 of ~100 ms
# for whichever side ran first), and the comparison measures the order.
settle() { psql "$DB_URL" -qAt -c "VACUUM (ANALYZE)" >/dev/null; }
rps() { awk -v r="$1" -v d="$2" 'BEGIN { printf "%.0f", r / (d / 1e6) }'; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# written_after WANT: see scripts/bench/sink-wait.sh.
. scripts/bench/sink-wait.sh

# Warm-up, not measured (RUN=9: slots no measured run uses): the server's pool opens its connections and
# prepares its statements on first use, which pgbench does before its clock
# starts ("without initial connection time"). RUN=9: slots no measured run
# uses.
RUN=9 wrk -t2 -c64 -d2s -s scripts/bench/create-bookings.lua "http://127.0.0.1:$PORT" >/dev/null

ratio() { awk -v a="$1" -v p="$2" 'BEGIN { printf "%.2f", a / p }'; }
# only SECTION: whether BENCH_ONLY lets that section run.
only() { [ -z "${BENCH_ONLY:-}" ] || [ "$BENCH_ONLY" = "$1" ]; }
run=0
if only creation; then
echo
echo "## Booking creation: API vs pgbench (${DURATION}s each; server pool $POOL connections; fsync=$fsync, synchronous_commit=$sync_commit)"
printf '| clients | API req/s | API p50 ms | API p99 ms | non-2xx | own insert tps | lean insert tps | API / own | API / lean |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
pgbench_tps() {
  settle
  "$PGBENCH" -n -c "$1" -j 2 -T "$DURATION" -f "$2" "$DB_URL" 2>/dev/null \
    | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1
}
for c in 16 64; do
  settle
  r=$(RUN=$run wrk -t2 -c$c -d${DURATION}s --latency -s scripts/bench/create-bookings.lua "http://127.0.0.1:$PORT" | result)
  api_rps=$(rps "$(field "$r" requests)" "$(field "$r" duration_us)")
  own=$(pgbench_tps "$c" "$pgbench_sql")
  lean=$(pgbench_tps "$c" scripts/bench/lean-insert.sql)
  run=$((run + 1))
  echo "| $c | $api_rps | $(field "$r" p50_ms) | $(field "$r" p99_ms) | $(field "$r" errors_status) | ${own%.*} | ${lean%.*} | $(ratio "$api_rps" "$own") | $(ratio "$api_rps" "$lean") |"
done
fi

# Without and with one write-back connection on the booked provider, side
# by side at each concurrency (each run after a VACUUM; the order flips
# between the two concurrencies, so the table's growth favours neither
# side): with it, the insert statement also queues the booking's calendar
# write, which the server's worker sends to the sink meanwhile.
if only writeback; then
echo
echo "## Booking creation without and with one write-back connection (${DURATION}s each; sink at nice $SINK_NICE)"
printf '| clients | write-back | API req/s | API p50 ms | API p99 ms | non-2xx | with / without | all written after s |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n'
made=0
for c in 16 64; do
  if [ "$c" = 16 ]; then order="srv_quarter srv_quarter_w"; else order="srv_quarter_w srv_quarter"; fi
  declare -A got=() lines=()
  for service in $order; do
    settle
    r=$(RUN=$run SERVICE=$service wrk -t2 -c$c -d${DURATION}s --latency -s scripts/bench/create-bookings.lua "http://127.0.0.1:$PORT" | result)
    run=$((run + 1))
    got[$service]=$(rps "$(field "$r" requests)" "$(field "$r" duration_us)")
    lines[$service]="$(field "$r" p50_ms) | $(field "$r" p99_ms) | $(field "$r" errors_status)"
    if [ "$service" = srv_quarter_w ]; then
      made=$((made + $(field "$r" requests) - $(field "$r" errors_status)))
      # Every booking's event reaches the sink before the next run: how
      # long after this one that took.
      drain=$(written_after "$(psql "$DB_URL" -qAt -c "SELECT count(*) FROM bookings WHERE service_id = 'srv_quarter_w'")")
    fi
  done
  echo "| $c | no | ${got[srv_quarter]} | ${lines[srv_quarter]} | | |"
  echo "| $c | yes | ${got[srv_quarter_w]} | ${lines[srv_quarter_w]} | $(ratio "${got[srv_quarter_w]}" "${got[srv_quarter]}") | $drain |"
done
read -r events puts <<<"$(curl -sf "http://127.0.0.1:$SINK_PORT/count")"
echo "(the sink holds $events events from $puts PUTs in all; wrk counted $made bookings, not those still in flight when it stopped; \"all written after\": from the end of the run until the sink held an event for every booking with write-back)"
fi

# Holds (issue 16): a hold then its booking with hold_id, between two plain
# booking runs, all at 16 clients in this run on the database as it stands
# then. The pair should cost at most twice a booking: pairs/s at least half
# of the plain bookings/s beside it.
if only holds; then
settle
echo
echo "## Hold then book with hold_id vs plain booking, 16 clients (${DURATION}s each, in this order)"
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
settle
r=$(RUN=0 wrk -t2 -c16 -d${DURATION}s --latency -s scripts/bench/hold-then-book.lua "http://127.0.0.1:$PORT" | result)
pairs=$(rps "$(field "$r" pairs)" "$(field "$r" duration_us)")
echo "| hold, then book with hold_id | $pairs | $(rps "$(field "$r" requests)" "$(field "$r" duration_us)") | $(field "$r" p50_ms) | $(field "$r" p99_ms) | $(field "$r" errors_status) |"
settle
plain_row after
awk -v a="$before" -v b="$plain" -v p="$pairs" 'BEGIN { if (p > 0) printf "(a pair costs %.2f plain bookings: the mean of the two plain rows over the pairs)\n", (a + b) / 2 / p }'
fi

# The write runs above left tens of thousands of new rows; vacuum them now
# so autovacuum does not take a core away in the middle of the read runs
# (the reads measure the read path in a steady state, not the cleanup of a
# write burst).
only reads || exit 0
settle

echo
echo "## Availability reads, 16 clients (${DURATION}s each)"
printf '| case | req/s | p50 ms | p99 ms | non-2xx |\n| --- | --- | --- | --- | --- |\n'
read_case() {
  local name=$1 path=$2
  local r; r=$(wrk -t2 -c16 -d${DURATION}s --latency -s scripts/bench/get.lua "http://127.0.0.1:$PORT$path" | result)
  echo "| $name | $(rps "$(field "$r" requests)" "$(field "$r" duration_us)") | $(field "$r" p50_ms) | $(field "$r" p99_ms) | $(field "$r" errors_status) |"
}
slots_seed=$(api "/v1/services/srv_consultation/availability?from=2029-01-01&to=2029-01-31" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["slots"]))')
slots_dense=$(api "/v1/services/srv_dense/availability?from=2029-03-01&to=2029-03-31" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["slots"]))')
read_case "seed service, 31 days, 40 bookings ($slots_seed slots)" "/v1/services/srv_consultation/availability?from=2029-01-01&to=2029-01-31"
read_case "15-min 24x7, 31 days, 1,000 bookings ($slots_dense slots)" "/v1/services/srv_dense/availability?from=2029-03-01&to=2029-03-31"
slots_hours=$(api "/v1/services/srv_hours/availability?from=2029-05-01&to=2029-05-31" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["slots"]))')
read_case "3 windows a day, 20 overrides, 30 time off, 300 bookings, 31 days ($slots_hours slots)" "/v1/services/srv_hours/availability?from=2029-05-01&to=2029-05-31"
slots_team=$(api "/v1/services/srv_team/availability?from=2029-07-01&to=2029-07-31" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["slots"]))')
read_case "round robin, 10 providers, 31 days, 1,000 bookings ($slots_team slots)" "/v1/services/srv_team/availability?from=2029-07-01&to=2029-07-31"
