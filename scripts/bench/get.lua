-- wrk script: GET with the API key from KEY; prints one RESULT line.
function init(args)
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d errors_status=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.duration, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
