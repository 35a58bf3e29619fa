-- wrk script: a hold (POST /v1/holds) then its booking (POST /v1/bookings
-- with hold_id), each pair in its own 15-minute slot, so every pair is a
-- real hold and a real booking. Each thread keeps the holds it was answered
-- and books them with its next requests; `holds` counts holds made (201),
-- `pairs` bookings made from a hold (201, so a pair is a hold and its
-- booking, both made), `errors_status` every non-2xx answer of either
-- kind (holds minus pairs: the holds whose booking failed or was still to
-- come when the run stopped). Needs KEY (and
-- SERVICE, default srv_quarter) in the environment; RUN picks slots that
-- earlier runs did not use.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  pairs_made = 0
  holds_made = 0
  held = {}
  key = os.getenv("KEY")
  service = os.getenv("SERVICE") or "srv_quarter"
  -- From 2040-01-01T00:00:00Z (after create-bookings.lua's slots), each
  -- thread of each run gets its own 200,000 slots.
  local run = tonumber(os.getenv("RUN") or "0")
  base = 2208988800 + (run * 2 + tid) * 200000 * 900
end

local headers = nil

function request()
  headers = headers or {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
  }
  local h = table.remove(held, 1)
  if h then
    local body = '{"service":"' .. service .. '","scheduled_at":"' .. h.at ..
      '","hold_id":"' .. h.id .. '","customer":{"email":"load@example.com","name":"Load Test"}}'
    return wrk.format("POST", "/v1/bookings", headers, body)
  end
  counter = counter + 1
  local at = os.date("!%Y-%m-%dT%H:%M:%SZ", base + counter * 900)
  return wrk.format("POST", "/v1/holds", headers,
    '{"service":"' .. service .. '","scheduled_at":"' .. at .. '"}')
end

function response(status, hdrs, body)
  if status ~= 201 then
    return
  end
  local id = string.match(body, '"id":"(hld_[^"]+)"')
  if id then
    holds_made = holds_made + 1
    table.insert(held, { id = id, at = string.match(body, '"scheduled_at":"([^"]+)"') })
  elseif string.match(body, '"id":"bk_') then
    pairs_made = pairs_made + 1
  end
end

function done(summary, latency, requests)
  local total, holds = 0, 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("pairs_made") or 0)
    holds = holds + (thread:get("holds_made") or 0)
  end
  io.write(string.format("RESULT requests=%d holds=%d pairs=%d duration_us=%d errors_status=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, holds, total, summary.duration, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
