-- wrk script: POST /api/v1/streams/send with a fresh messageUuid per request, spread over a pool of streams,
-- and a JSON summary (bench/lib/wrk-result.lua) for bench/lib/send-load.mjs to read.
local streams = tonumber(os.getenv("BENCH_SEND_STREAMS"))
local payload = os.getenv("BENCH_PAYLOAD")
local prefix = os.getenv("BENCH_RUN_ID")
local streamPrefix = os.getenv("BENCH_STREAM_PREFIX") or "send-"
-- Or exactly these streams (comma-separated), e.g. those one worker owns.
local ids = {}
for id in string.gmatch(os.getenv("BENCH_STREAM_IDS") or "", "[^,]+") do ids[#ids + 1] = id end
local counter = 0
local threads = 0

-- Each thread gets its own tag so messageUuids never repeat across threads.
tag = "t0"
function setup(thread)
  thread:set("tag", "t" .. threads)
  threads = threads + 1
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
-- A bearer token for a node with auth.mode jwt (bench/auth.mjs).
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization ~= nil and authorization ~= "" then wrk.headers["Authorization"] = authorization end

function request()
  counter = counter + 1
  local stream = #ids > 0 and ids[(counter % #ids) + 1] or (streamPrefix .. (counter % streams))
  local body = '{"streamId":"' .. stream .. '","messageUuid":"' .. prefix .. tag .. '-' .. counter ..
    '","message":' .. payload .. '}'
  return wrk.format(nil, nil, nil, body)
end

dofile(os.getenv("BENCH_LIB") .. "/wrk-result.lua")
