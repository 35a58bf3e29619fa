-- wrk script: POST /v1/bookings with a distinct 15-minute slot per request,
-- so every request is a real insert (no conflicts). Needs KEY and SERVICE in
-- the environment.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  key = os.getenv("KEY")
  service = os.getenv("SERVICE") or "srv_quarter"
  -- From 2030-01-01T00:00:00Z, each thread of each run (RUN=0,1,…) gets its
  -- own 200,000 slots, so runs never collide with earlier ones.
  local run = tonumber(os.getenv("RUN") or "0")
  base = 1893456000 + (run * 2 + tid) * 200000 * 900
end

function request()
  counter = counter + 1
  local at = os.date("!%Y-%m-%dT%H:%M:%SZ", base + counter * 900)
  local body = '{"service":"' .. service .. '","scheduled_at":"' .. at ..
    '","customer":{"email":"load@example.com","name":"Load Test"}}'
  return wrk.format("POST", "/v1/bookings", {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d errors_status=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.duration, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
