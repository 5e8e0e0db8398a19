// The send load with autocannon, for machines without wrk: run as its own process (so the load generator has
// a core to itself rather than sharing the benchmark's event loop) and prints the same BENCH_RESULT line as
// bench/lib/send.lua.
//   node bench/lib/autocannon-send.mjs <port> <connections> <seconds>   (BENCH_SEND_STREAMS, BENCH_STREAM_PREFIX,
//   BENCH_PAYLOAD, BENCH_RUN_ID, BENCH_AUTHORIZATION)
import autocannon from 'autocannon';

const [port, connections, seconds] = process.argv.slice(2).map(Number);
const streams = Number(process.env.BENCH_SEND_STREAMS);
const payload = process.env.BENCH_PAYLOAD;
const prefix = process.env.BENCH_RUN_ID;
const streamPrefix = process.env.BENCH_STREAM_PREFIX ?? 'send-';
let counter = 0;

const result = await autocannon({
  url: `http://127.0.0.1:${port}`,
  connections,
  duration: seconds,
  requests: [
    {
      method: 'POST',
      path: '/api/v1/streams/send',
      headers: {
        'content-type': 'application/json',
        ...(process.env.BENCH_AUTHORIZATION ? { authorization: process.env.BENCH_AUTHORIZATION } : {}),
      },
      setupRequest(request) {
        counter++;
        request.body = `{"streamId":"${streamPrefix}${counter % streams}","messageUuid":"${prefix}a-${counter}","message":${payload}}`;
        return request;
      },
    },
  ],
});
const summary = {
  requests: result.requests.total,
  durationUs: Math.round(result.duration * 1e6),
  non2xx: result.non2xx,
  socketErrors: result.errors + result.timeouts,
  p50Us: Math.round(result.latency.p50 * 1000),
  p99Us: Math.round(result.latency.p99 * 1000),
};
process.stdout.write(`BENCH_RESULT ${JSON.stringify(summary)}\n`);
