# Sourced by the bench scripts that write bookings into the local calendar
# sink (scripts/bench/calendar-sink.py on $SINK_PORT).
#
# written_after WANT: waits (up to 300 s) until the sink holds WANT events;
# prints the seconds it took (">300" if it never did).
written_after() {
  local start events
  start=$(date +%s.%N)
  for _ in $(seq 3000); do
    read -r events _ <<<"$(curl -sf "http://127.0.0.1:$SINK_PORT/count")"
    if [ "$events" -ge "$1" ]; then
      awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'
      return
    fi
    sleep 0.1
  done
  echo ">300"
}
