-- wrk script: long-poll GET /api/v1/streams/receive over the same pool of streams send.lua fills, in the same
-- order, so receivers that run ahead of the senders park and are woken by a send; a JSON summary from
-- bench/lib/wrk-result.lua.
-- A 200 is a delivered message; a 424 (no message before timeoutSeconds) counts as a non-2xx answer.
local streams = tonumber(os.getenv("BENCH_SEND_STREAMS"))
local prefix = os.getenv("BENCH_STREAM_PREFIX")
local timeout = os.getenv("BENCH_RECEIVE_TIMEOUT_SECONDS")
local counter = 0

function request()
  counter = counter + 1
  return wrk.format("GET", "/api/v1/streams/receive?streamId=" .. prefix .. (counter % streams) .. "&timeoutSeconds=" .. timeout)
end

dofile(os.getenv("BENCH_LIB") .. "/wrk-result.lua")
