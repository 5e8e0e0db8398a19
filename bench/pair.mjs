// What users do at once, against the bare node:http floor in the same run (issue 15):
//   pair     sends (wrk, BENCH_PAIR_SEND_CONNECTIONS) and long-poll receives (wrk, BENCH_PAIR_RECEIVE_CONNECTIONS)
//            at the same time over the same BENCH_PAIR_STREAMS streams: sends/s, messages delivered/s, and
//            whether deliveries keep up with sends (receivers that run ahead park and are woken by a send)
//   sends    sends alone (BENCH_CONNECTIONS) over the same number of streams
//   workers  both of the above through the shared port of a node with node.workers auto against one with 1
//   workers-forward  with node.workers auto, sends entering worker 1 for streams it owns against streams its
//            sibling owns: what forwarding between workers costs, in server CPU per send (all processes)
// Rounds alternate the servers, the order rotating each round, and every round writes to new streams; each
// round's figures, its ratios to the floor, and the medians are printed.
import { availableParallelism } from 'node:os';
import { options, selected } from './lib/options.mjs';
import { ServerUnderTest } from './lib/processes.mjs';
import { count, heading, line, percent, summary, target } from './lib/report.mjs';
import { runLoad, sendLoadGenerator, wrkPolicy } from './lib/send-load.mjs';

const SERVERS = [['iPubSub', () => ServerUnderTest.ipubsub()]];
if (options.BASELINE !== '') SERVERS.push(['baseline', () => ServerUnderTest.ipubsub({}, options.BASELINE)]);
SERVERS.push(['floor', () => ServerUnderTest.floor()]);
const tool = sendLoadGenerator().tool;
if (tool !== 'wrk') throw new Error('bench/pair.mjs needs wrk for its receive load (Debian package wrk)');

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Runs `measure()` and adds the server's CPU meanwhile: as a fraction of one core, and in µs per request
 * answered with a message or accepting one (`sent` + `delivered` per second over `seconds`). On a machine
 * shared with other work the second is the steadier comparison: neither server may get a whole core.
 */
async function withServerCpu(server, measure, seconds) {
  const before = server.cpuSeconds();
  const started = performance.now();
  const result = await measure();
  const cpuSeconds = server.cpuSeconds() - before;
  const messages = (result.sent + (result.delivered ?? 0)) * seconds;
  return {
    ...result,
    serverCpu: cpuSeconds / ((performance.now() - started) / 1000),
    cpuPerMessageUs: (cpuSeconds * 1e6) / messages,
  };
}

/** Sends and receives at once for `seconds` on streams `<prefix><n>`. */
async function runPair(server, prefix, seconds) {
  const common = { tool, port: server.port, seconds, streams: options.PAIR_STREAMS, streamPrefix: prefix };
  const [sends, receives] = await Promise.all([
    runLoad({ ...common, connections: options.PAIR_SEND_CONNECTIONS }),
    runLoad({ ...common, connections: options.PAIR_RECEIVE_CONNECTIONS, receive: true }),
  ]);
  return {
    sent: sends.okPerSecond,
    delivered: receives.okPerSecond,
    emptyPolls: receives.non2xx / (receives.requests / receives.requestsPerSecond),
    failed: sends.failed + receives.socketErrors,
    loadgenCpu: sends.loadgenCpu + receives.loadgenCpu,
  };
}

/**
 * Starts the servers, warms each up with `warmup(server)`, then runs `measure(server, round)` on each for
 * the rounds (order rotating), printing every result with `describe`; stops them and returns name → results.
 */
async function alternate({ starters = SERVERS, warmup, measure, describe }) {
  const servers = [];
  try {
    for (const [name, start] of starters) servers.push([name, await start()]);
    for (const [, server] of servers) await warmup(server);
    const runs = new Map(servers.map(([name]) => [name, []]));
    for (let round = 0; round < options.PAIR_ROUNDS; round++) {
      for (let k = 0; k < servers.length; k++) {
        const [name, server] = servers[(round + k) % servers.length];
        const result = await withServerCpu(server, () => measure(server, round), options.PAIR_DURATION);
        runs.get(name).push(result);
        line(name, `round ${round + 1}: ${describe(result)}`);
      }
    }
    return runs;
  } finally {
    await Promise.all(servers.map(([, server]) => server.stop()));
  }
}

/**
 * Per-round ratios to the floor and the ratio of the medians, for `key` (higher is better; `inverse` for
 * costs, lower is better, so that a ratio above 1 always favours iPubSub); returns the latter for iPubSub.
 */
function ratios(runs, key, label, inverse = false, base = 'floor') {
  const floor = runs.get(base);
  const of = (a, b) => (inverse ? b / a : a / b);
  let ratio;
  for (const [name, results] of runs) {
    if (name === base) continue;
    const perRound = results.map((r, i) => of(r[key], floor[i][key]).toFixed(2)).join(', ');
    const ofMedians = of(median(results.map((r) => r[key])), median(floor.map((r) => r[key])));
    ratio ??= ofMedians;
    line('ratio', `${name}/${base} ${label}: per round ${perRound}; of the medians ${ofMedians.toFixed(2)}`);
  }
  return ratio;
}

const describePair = (r) =>
  `${count(r.sent).padStart(7)} sends/s ${count(r.delivered).padStart(7)} delivered/s ` +
  `(${percent(r.delivered / r.sent)} of sends)  ${count(r.emptyPolls)} empty polls/s  ${r.failed} failed   ` +
  `CPU: server ${percent(r.serverCpu)} (${r.cpuPerMessageUs.toFixed(1)} µs per send or delivery), wrk ${percent(r.loadgenCpu)}`;

async function pairFigure() {
  heading(
    'Pair: sends and long-poll receives at once',
    `wrk${wrkPolicy}, 1 thread each: ${options.PAIR_SEND_CONNECTIONS} connections sending and ${options.PAIR_RECEIVE_CONNECTIONS} ` +
      `long-polling, in the same order over ${count(options.PAIR_STREAMS)} streams, ${options.MESSAGE_BYTES}-byte ` +
      `messages; ${options.PAIR_DURATION} s per round after a ${options.PAIR_WARMUP} s warm-up per server; ` +
      `${options.PAIR_ROUNDS} rounds, order rotating`,
  );
  const runs = await alternate({
    warmup: (server) => runPair(server, 'pair-warm-', options.PAIR_WARMUP),
    measure: (server, round) => runPair(server, `pair${round}-`, options.PAIR_DURATION),
    describe: describePair,
  });
  for (const [name, results] of runs) {
    const sent = median(results.map((r) => r.sent));
    const delivered = median(results.map((r) => r.delivered));
    line(name, `median: ${count(sent)} sends/s, ${count(delivered)} delivered/s`);
  }
  ratios(runs, 'sent', 'sends');
  const ratio = ratios(runs, 'delivered', 'delivered');
  const byCpu = ratios(runs, 'cpuPerMessageUs', 'by CPU per send or delivery', true);
  const ours = runs.get('iPubSub');
  const keptUp = median(ours.map((r) => r.delivered / r.sent));
  return [
    target('pair: delivered ≥ 0.9× floor (ratio of the medians)', ratio >= 0.9),
    target(`pair: deliveries within 5% of sends (median ${percent(keptUp)})`, Math.abs(keptUp - 1) <= 0.05),
    // What a loaded machine cannot skew: the throughput ratio follows how much CPU each server was given.
    target('pair: CPU per send or delivery ≤ floor / 0.9 (ratio of the medians)', byCpu >= 0.9),
  ];
}

/** Sends alone for `seconds` on streams `<prefix><n>`. */
async function sendsAlone(server, prefix, seconds) {
  const r = await runLoad({ tool, port: server.port, seconds, streams: options.PAIR_STREAMS, streamPrefix: prefix });
  return { ...r, sent: r.okPerSecond };
}

const describeSends = (r) =>
  `${count(r.sent).padStart(7)} sends/s   ${r.failed} failed   ` +
  `CPU: server ${percent(r.serverCpu)} (${r.cpuPerMessageUs.toFixed(1)} µs per send), wrk ${percent(r.loadgenCpu)}`;

async function sendsFigure() {
  heading(
    'Sends alone',
    `wrk${wrkPolicy}, 1 thread, ${options.CONNECTIONS} connections over ${count(options.PAIR_STREAMS)} streams; ` +
      `${options.PAIR_DURATION} s per round after a ${options.PAIR_WARMUP} s warm-up per server; ${options.PAIR_ROUNDS} rounds`,
  );
  const runs = await alternate({
    warmup: (server) => sendsAlone(server, 'sends-warm-', options.PAIR_WARMUP),
    measure: (server, round) => sendsAlone(server, `sends${round}-`, options.PAIR_DURATION),
    describe: describeSends,
  });
  for (const [name, results] of runs) line(name, `median: ${count(median(results.map((r) => r.sent)))} sends/s`);
  const ratio = ratios(runs, 'sent', 'sends');
  const byCpu = ratios(runs, 'cpuPerMessageUs', 'by CPU per send', true);
  return [
    target('sends alone ≥ 0.9× floor (ratio of the medians)', ratio >= 0.9),
    target('sends alone: CPU per send ≤ floor / 0.9 (ratio of the medians)', byCpu >= 0.9),
  ];
}

async function workersFigure() {
  heading(
    'Workers: node.workers auto against 1, through the shared port',
    `the pair and then sends alone as above, ${availableParallelism()} workers for auto; a request reaching a ` +
      `worker that does not own its stream is forwarded to the one that does`,
  );
  const starters = [
    ['workers 1', () => ServerUnderTest.ipubsubWorkers(1)],
    ['auto', () => ServerUnderTest.ipubsubWorkers('auto')],
  ];
  if (options.BASELINE !== '')
    starters.push(['auto baseline', () => ServerUnderTest.ipubsubWorkers('auto', options.BASELINE)]);
  const pair = await alternate({
    starters,
    warmup: (server) => runPair(server, 'pair-warm-', options.PAIR_WARMUP),
    measure: (server, round) => runPair(server, `pair${round}-`, options.PAIR_DURATION),
    describe: describePair,
  });
  const delivered = ratios(pair, 'delivered', 'pair delivered', false, 'workers 1');
  const sends = await alternate({
    starters,
    warmup: (server) => sendsAlone(server, 'sends-warm-', options.PAIR_WARMUP),
    measure: (server, round) => sendsAlone(server, `sends${round}-`, options.PAIR_DURATION),
    describe: describeSends,
  });
  const sent = ratios(sends, 'sent', 'sends alone', false, 'workers 1');
  return [
    target('workers auto delivers more than 1 in the pair', delivered > 1),
    target('workers auto accepts more sends alone than 1', sent > 1),
  ];
}

/** `count` stream ids that worker `owner` owns, as worker 1 (on `port + 1`) routes. */
async function streamsOwnedBy(port, owner, count) {
  const ids = [];
  for (let i = 0; ids.length < count; i++) {
    const res = await fetch(`http://127.0.0.1:${port + 1}/api/v1/cluster/owner?streamId=fw${i}`);
    if ((await res.json()).owner.endsWith(`-w${owner}`)) ids.push(`fw${i}`);
  }
  return ids;
}

async function workersForwardFigure() {
  heading(
    'Workers: what forwarding to a sibling costs',
    `node.workers auto; wrk sends (${options.CONNECTIONS} connections) to worker 1's own port, for 200 streams ` +
      `worker 1 owns (local) and then 200 its sibling owns (forwarded); ${options.PAIR_DURATION} s each, ` +
      `${options.PAIR_ROUNDS} rounds`,
  );
  const starters = [['auto', () => ServerUnderTest.ipubsubWorkers('auto')]];
  if (options.BASELINE !== '')
    starters.push(['auto baseline', () => ServerUnderTest.ipubsubWorkers('auto', options.BASELINE)]);
  const streams = new Map();
  const runs = await alternate({
    starters,
    warmup: async (server) => {
      streams.set(server, [await streamsOwnedBy(server.port, 1, 200), await streamsOwnedBy(server.port, 2, 200)]);
      await sendsAlone(server, 'fw-warm-', options.PAIR_WARMUP);
    },
    measure: async (server) => {
      const result = {};
      for (const [label, streamIds] of ['local', 'forwarded'].map((l, i) => [l, streams.get(server)[i]])) {
        const measured = await withServerCpu(
          server,
          async () => {
            const r = await runLoad({ tool, port: server.port + 1, seconds: options.PAIR_DURATION, streamIds });
            return { sent: r.okPerSecond };
          },
          options.PAIR_DURATION,
        );
        result[label] = measured.cpuPerMessageUs;
      }
      return { ...result, sent: 0, overhead: result.forwarded - result.local };
    },
    describe: (r) =>
      `CPU per send: local ${r.local.toFixed(1)} µs, forwarded ${r.forwarded.toFixed(1)} µs ` +
      `(forwarding adds ${r.overhead.toFixed(1)} µs)`,
  });
  for (const [name, results] of runs)
    line(name, `median: forwarding adds ${median(results.map((r) => r.overhead)).toFixed(1)} µs of CPU per send`);
  return [];
}

const verdicts = [];
if (selected('pair')) verdicts.push(...(await pairFigure()));
if (selected('sends')) verdicts.push(...(await sendsFigure()));
if (selected('workers')) verdicts.push(...(await workersFigure()));
if (selected('workers-forward')) verdicts.push(...(await workersForwardFigure()));
summary('Targets (pair)', verdicts);
