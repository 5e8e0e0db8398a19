// Throughput and latency on loopback, iPubSub against the bare node:http floor (and, with BENCH_BASELINE,
// against another build of iPubSub; with BENCH_FASTIFY, the send figure also on a plain Fastify route),
// each server a process of its own:
//   send          requests/s with wrk (or autocannon), server CPU per request, and the ratio iPubSub/floor
//   deliver       messages/s delivered over S streams, each with one sender and one long-polling receiver
//   latency       send → waiting receiver woken, p50/p99, one message at a time
// With BENCH_ROUNDS > 1 the throughput figures alternate between the servers round by round and report each
// server's best round, which is what a machine shared with other work lets through (and the median).
import { measureDelivery, measureLatency } from './lib/delivery.mjs';
import { options, selected } from './lib/options.mjs';
import { ServerUnderTest } from './lib/processes.mjs';
import { payloadOf } from './lib/raw-http.mjs';
import { count, heading, line, ms, percent, summary, target } from './lib/report.mjs';
import { runSendLoad, sendLoadGenerator } from './lib/send-load.mjs';

const SERVERS = [['iPubSub', () => ServerUnderTest.ipubsub()]];
if (options.BASELINE !== '') SERVERS.push(['baseline', () => ServerUnderTest.ipubsub({}, options.BASELINE)]);
SERVERS.push(['floor', () => ServerUnderTest.floor()]);
const payload = payloadOf(options.MESSAGE_BYTES);
/**
 * Samples before the measured ones. V8 compiles a server's hot paths on background threads during its first
 * thousands of requests, and on two cores that work delays the client too: after 200 the node's p99 measured
 * 1.0–2.0 ms, after 2,000 0.41–0.56 ms (the floor, with far less code: 0.44–1.49 and 0.27–0.30 ms).
 */
const LATENCY_WARMUP_SAMPLES = 2000;

/** Runs `measure()` and adds the CPU the server and this process used meanwhile (fraction of one core). */
async function withCpu(server, measure) {
  const serverBefore = server.cpuSeconds();
  const selfBefore = process.cpuUsage();
  const started = performance.now();
  const result = await measure();
  const seconds = (performance.now() - started) / 1000;
  const self = process.cpuUsage(selfBefore);
  return {
    ...result,
    seconds,
    serverCpu: (server.cpuSeconds() - serverBefore) / seconds,
    clientCpu: (self.user + self.system) / 1e6 / seconds,
  };
}

/**
 * Starts every server, runs `measure(server)` on each in turn for `rounds` rounds, stops them, and prints
 * each server's best round by `key` (higher is better).
 */
async function compare({ starters = SERVERS, prepare, measure, key, rounds, describe }) {
  const servers = [];
  try {
    for (const [name, start] of starters) servers.push([name, await start()]);
    for (const [, server] of servers) await prepare?.(server);
    const runs = new Map(servers.map(([name]) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [name, server] of servers) runs.get(name).push(await measure(server));
    }
    const best = {};
    for (const [name, results] of runs) {
      const sorted = [...results].sort((a, b) => b[key] - a[key]);
      best[name] = sorted[0];
      const median =
        rounds > 1 ? `   (best of ${rounds} rounds; median ${count(sorted[Math.floor(rounds / 2)][key])})` : '';
      line(name, describe(best[name]) + median);
    }
    return best;
  } finally {
    await Promise.all(servers.map(([, server]) => server.stop()));
  }
}

function ratioLines(results, key) {
  for (const name of Object.keys(results)) {
    if (name !== 'floor') line('ratio', `${name}/floor ${(results[name][key] / results.floor[key]).toFixed(2)}`);
  }
  return results.iPubSub[key] / results.floor[key];
}

/**
 * The floor's CPU per request over each server's: the throughput ratio two servers would show if each had a
 * core to itself. On a machine busy with other work neither may get one, and the throughput ratio then
 * says more about the scheduler than about the servers.
 */
function cpuRatioLines(results) {
  for (const name of Object.keys(results)) {
    if (name === 'floor') continue;
    line(
      'ratio',
      `${name}/floor by CPU per request ${(results.floor.cpuPerRequestUs / results[name].cpuPerRequestUs).toFixed(2)}`,
    );
  }
}

async function sendFigure() {
  const generator = sendLoadGenerator();
  heading(
    'Send throughput',
    `${generator.label}; ${options.DURATION} s after a ${options.WARMUP} s warm-up; ${options.MESSAGE_BYTES}-byte messages spread over ${options.SEND_STREAMS} streams (circular buffers of 100)`,
  );
  const starters = options.FASTIFY
    ? [...SERVERS, ['fastify', () => ServerUnderTest.script('fastify', 'bench/fastify-floor.mjs')]]
    : SERVERS;
  const results = await compare({
    starters,
    prepare: (server) => (options.WARMUP > 0 ? runSendLoad(generator.tool, server.port, options.WARMUP) : undefined),
    measure: async (server) => {
      const r = await withCpu(server, () => runSendLoad(generator.tool, server.port, options.DURATION));
      return { ...r, cpuPerRequestUs: (r.serverCpu * r.seconds * 1e6) / r.requests };
    },
    key: 'requestsPerSecond',
    rounds: options.ROUNDS,
    describe: (r) =>
      `${count(r.requestsPerSecond).padStart(7)} req/s   latency p50 ${ms(r.p50Ms)}, p99 ${ms(r.p99Ms)}   ${r.failed} failed   ` +
      `CPU: server ${percent(r.serverCpu)} (${r.cpuPerRequestUs.toFixed(0)} µs per request), ${generator.tool} ${percent(r.loadgenCpu)}`,
  });
  const ratio = ratioLines(results, 'requestsPerSecond');
  cpuRatioLines(results);
  return target('send throughput ≥ 0.8× floor', ratio >= 0.8);
}

async function deliverFigure() {
  heading(
    'Delivery',
    `${options.STREAMS} streams, each with one sender and one long-polling receiver on their own keep-alive connections ` +
      `(raw HTTP/1.1 client in the benchmark process); ${options.DURATION} s after a ${options.WARMUP} s warm-up`,
  );
  const results = await compare({
    measure: (server) =>
      withCpu(server, () =>
        measureDelivery({
          streams: options.STREAMS,
          senderPort: () => server.port,
          receiverPort: () => server.port,
          payload,
          warmupSeconds: options.WARMUP,
          seconds: options.DURATION,
        }),
      ),
    key: 'deliveredPerSecond',
    rounds: options.ROUNDS,
    describe: (r) =>
      `${count(r.deliveredPerSecond).padStart(7)} msg/s delivered (${count(r.sentPerSecond)} sends/s)   ${r.failed} failed   ` +
      `CPU: server ${percent(r.serverCpu)}, client ${percent(r.clientCpu)}`,
  });
  ratioLines(results, 'deliveredPerSecond');
}

async function latencyFigure() {
  heading(
    'Delivery latency',
    `a long-polling receiver parked on a stream, then one send; time from writing the send to reading the receiver's ` +
      `answer; ${options.LATENCY_SAMPLES} samples one at a time after ${LATENCY_WARMUP_SAMPLES} warm-up`,
  );
  const results = await compare({
    measure: (server) =>
      measureLatency({
        streamId: 'latency',
        senderPort: server.port,
        receiverPort: server.port,
        payload,
        samples: options.LATENCY_SAMPLES,
        warmup: LATENCY_WARMUP_SAMPLES,
      }),
    key: 'p99Ms',
    rounds: 1,
    describe: (r) => `p50 ${ms(r.p50Ms)}   p99 ${ms(r.p99Ms)}   max ${ms(r.maxMs)}   ${r.failed} failed`,
  });
  return target('waiting receiver woken in < 2 ms p99', results.iPubSub.p99Ms < 2);
}

const verdicts = [];
if (selected('send')) verdicts.push(await sendFigure());
if (selected('deliver')) await deliverFigure();
if (selected('latency')) verdicts.push(await latencyFigure());
summary('Targets (throughput and latency)', verdicts);
