#!/usr/bin/env bash
# A/B of availability reads between two server binaries, side by side on one
# PostgreSQL cluster: each binary gets its own database with the same
# fixtures (the seed service with 40 bookings in January 2029, a 15-minute
# 24x7 service with 1,000 bookings in March 2029), then the read runs
# alternate A, B, A, B... so both see the same machine load.
#
# Usage: scripts/test-postgres.sh scripts/bench/ab-reads.sh BIN_A BIN_B [ROUNDS]
# (BENCH_DURATION seconds per run, default 8; 16 clients, as bench-http.sh).
set -euo pipefail
A=$1 B=$2 ROUNDS=${3:-3}
DURATION=${BENCH_DURATION:-8}
POOL=${BENCH_POOL:-$(( $(nproc) * 4 > 4 ? $(nproc) * 4 : 4 ))}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
admin=$TEST_DATABASE_URL
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT

start() { # name bin port -> KEY_<name>
  local name=$1 bin=$2 port=$3 db=ab_$1
  psql "$admin" -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  local url="${admin%/*}/$db"
  export BOOKING_SECRET_KEY; BOOKING_SECRET_KEY=$(openssl rand -base64 32)
  DATABASE_URL=$url $bin migrate >/dev/null
  local key; key=$(DATABASE_URL=$url $bin keys create --account bench | grep '^sk_')
  DATABASE_URL=$url BOOKING_BIND=127.0.0.1:$port BOOKING_RATE_BOOKINGS=1000000/second BOOKING_LOG=warn \
    BOOKING_DB_POOL_SIZE=$POOL $bin serve 2>"target/ab-$name.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  python3 - "$port" "$key" <<'PY'
import datetime, json, sys, urllib.request
port, key = sys.argv[1], sys.argv[2]
def post(path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
post("/v1/services", {"id": "srv_consultation", "name": "1-Hour Consultation", "duration": 60,
     "price": {"amount": 150, "currency": "USD", "type": "hourly"},
     "availability": {"days": days[:5], "hours": {"start": "09:00", "end": "17:00"}, "timezone": "America/New_York"}})
dense = post("/v1/providers", {"name": "Dense"})["id"]
post("/v1/services", {"id": "srv_dense", "name": "Dense", "duration": 15, "provider_id": dense,
     "price": {"amount": 10, "currency": "USD", "type": "flat"},
     "availability": {"days": days, "hours": {"start": "00:00", "end": "24:00"}, "timezone": "UTC"}})
PY
  python3 scripts/bench/read-fixtures.py "$port" "$key"
  psql "$url" -qAt -c "VACUUM (ANALYZE)" >/dev/null
  printf -v "KEY_$name" '%s' "$key"
}

start a "$A" 18191
start b "$B" 18192
echo "A = $A"
echo "B = $B"
echo "load before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '| round | case | A req/s | A p99 ms | B req/s | B p99 ms | B / A |\n| --- | --- | --- | --- | --- | --- | --- |\n'
run() { # port key path -> "rps p99"
  KEY=$2 wrk -t2 -c16 -d"${DURATION}s" --latency -s scripts/bench/get.lua "http://127.0.0.1:$1$3" \
    | sed -n 's/^RESULT //p' | tr ' ' '\n' | awk -F= '{v[$1]=$2} END {printf "%.0f %s %s\n", v["requests"]/(v["duration_us"]/1e6), v["p99_ms"], v["errors_status"]}'
}
for round in $(seq "$ROUNDS"); do
  for c in "seed|/v1/services/srv_consultation/availability?from=2029-01-01&to=2029-01-31" \
           "dense|/v1/services/srv_dense/availability?from=2029-03-01&to=2029-03-31"; do
    name=${c%%|*} path=${c#*|}
    read -r ra pa ea < <(run 18191 "$KEY_a" "$path")
    read -r rb pb eb < <(run 18192 "$KEY_b" "$path")
    [ "$ea" = 0 ] && [ "$eb" = 0 ] || echo "non-2xx answers: A $ea, B $eb"
    echo "| $round | $name | $ra | $pa | $rb | $pb | $(awk -v a="$ra" -v b="$rb" 'BEGIN {printf "%.2f", b / a}') |"
  done
done
echo "load after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
