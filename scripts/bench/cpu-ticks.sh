#!/usr/bin/env bash
# Prints the CPU time used so far, in clock ticks (1/100 s), as three
# numbers: Postgres (every backend, plus the children the postmaster has
# reaped, so the backends of closed connections count), booking-api
# processes, and the whole machine (busy time of all cores).
#
# Sample it before and after a load run and divide the differences by the
# requests served to get CPU per request on each side, e.g.
#
#   a=($(scripts/bench/cpu-ticks.sh)); wrk ... ; b=($(scripts/bench/cpu-ticks.sh))
#   echo "postgres µs/request: $(( (b[0] - a[0]) * 10000 / requests ))"
#
# Used for the per-booking CPU figures of docs/performance.md.
set -euo pipefail
pg=0
api=0
for p in /proc/[0-9]*; do
  comm=$(tr -d '\0' <"$p/comm" 2>/dev/null) || continue
  stat=$(cat "$p/stat" 2>/dev/null) || continue
  # Fields after "(comm) ": state ppid ... utime(12) stime(13) cutime(14) cstime(15).
  read -r -a f <<<"${stat##*) }"
  case "$comm" in
    postgres) pg=$((pg + f[11] + f[12] + f[13] + f[14])) ;;
    booking-api) api=$((api + f[11] + f[12])) ;;
  esac
done
read -r _ user nice system _idle _iowait irq softirq steal _ </proc/stat
echo "$pg $api $((user + nice + system + irq + softirq + steal))"
