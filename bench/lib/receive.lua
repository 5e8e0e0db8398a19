-- wrk script: long-poll GET /api/v1/streams/receive over the same pool of streams send.lua fills, in the same
-- order, so receivers that run ahead of the senders park and are woken by a send; a JSON summary from done().
-- A 200 is a delivered message; a 424 (no message before timeoutSeconds) counts as a non-2xx answer.
local streams = tonumber(os.getenv("BENCH_SEND_STREAMS"))
local prefix = os.getenv("BENCH_STREAM_PREFIX")
local timeout = os.getenv("BENCH_RECEIVE_TIMEOUT_SECONDS")
local counter = 0

function request()
  counter = counter + 1
  return wrk.format("GET", "/api/v1/streams/receive?streamId=" .. prefix .. (counter % streams) .. "&timeoutSeconds=" .. timeout)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH_RESULT {"requests":%d,"durationUs":%d,"non2xx":%d,"socketErrors":%d,"p50Us":%d,"p99Us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
