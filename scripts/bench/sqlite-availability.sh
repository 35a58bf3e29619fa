#!/usr/bin/env bash
# Seed-service availability over HTTP on SQLite (docs/performance.md, "Availability
# over HTTP (SQLite)") for one binary: a fresh database file, the seed service,
# 40 bookings, then 10 s of wrk at 16 connections. Usage:
#   scripts/bench/sqlite-availability.sh target/release/booking-api 18301
set -euo pipefail
BIN=$1; PORT=$2
dir=$(mktemp -d)
export DATABASE_URL=sqlite://$dir/booking.db
$BIN migrate >/dev/null
export KEY=$($BIN keys create --account bench | grep '^sk_')
BOOKING_BIND=127.0.0.1:$PORT BOOKING_RATE_BOOKINGS=1000000/second BOOKING_LOG=warn $BIN serve 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf $dir' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/v1/services" -H "Authorization: Bearer $KEY" -d '{"id":"srv_consultation","name":"1-Hour Consultation","duration":60,"price":{"amount":150,"currency":"USD","type":"hourly"},"availability":{"days":["monday","tuesday","wednesday","thursday","friday"],"hours":{"start":"09:00","end":"17:00"},"timezone":"America/New_York"}}' >/dev/null
python3 - "$PORT" "$KEY" <<'PY'
import datetime, json, sys, urllib.request
port, key = sys.argv[1], sys.argv[2]
day, n = datetime.datetime(2029, 1, 1, 15), 0
while n < 40:
    if day.weekday() < 5:
        for h in (0, 3):
            at = day + datetime.timedelta(hours=h)
            body = json.dumps({"service": "srv_consultation", "scheduled_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "customer": {"email": "f@example.com", "name": "Fixture"}}).encode()
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/v1/bookings", data=body,
                                   headers={"Authorization": f"Bearer {key}"})).read()
            n += 1
    day += datetime.timedelta(days=1)
PY
wrk -t2 -c16 -d10s --latency -s "$(dirname "$0")/get.lua" "http://127.0.0.1:$PORT/v1/services/srv_consultation/availability?from=2029-01-01&to=2029-01-31" | grep RESULT
