// Memory on loopback, iPubSub against the bare node:http floor, each on a fresh process:
//   idle-streams  RSS holding 1 M streams with one 100-byte message each (filled over pipelined keep-alive)
//   waiters       RSS with 20,000 long-polling receivers parked, one stream each
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { options, selected } from './lib/options.mjs';
import { REPO_ROOT, ServerUnderTest, withServer } from './lib/processes.mjs';
import { payloadOf, RawConnection, sendRequest } from './lib/raw-http.mjs';
import { count, heading, line, mib, summary, target } from './lib/report.mjs';

const GIB = 2 ** 30;
const MIB = 2 ** 20;
/** Time for the heap to settle (pending writes flushed, young generation collected) before RSS is read. */
const SETTLE_MS = 2000;

const SERVERS = [
  [
    'iPubSub',
    () =>
      ServerUnderTest.ipubsub({
        IPUBSUB_LIMITS_MAXSTREAMS: String(Math.max(5_000_000, 2 * (options.IDLE_STREAMS + options.WAITERS))),
        IPUBSUB_LIMITS_MAXWAITERSPERNODE: String(Math.max(200_000, 2 * options.WAITERS)),
      }),
  ],
  ['floor', () => ServerUnderTest.floor()],
];

/** Sends one message to each of IDLE_STREAMS new streams over pipelined keep-alive connections. */
async function fillStreams(server) {
  const total = options.IDLE_STREAMS;
  const payload = payloadOf(options.MESSAGE_BYTES);
  const baseline = server.rssBytes();
  const connections = await Promise.all(
    Array.from({ length: options.FILL_CONNECTIONS }, () => RawConnection.open(server.port)),
  );
  const started = performance.now();
  let next = 0;
  let answered = 0;
  let failed = 0;
  await new Promise((resolve) => {
    for (const connection of connections) {
      const sendNext = () => {
        if (next < total)
          connection.request(
            sendRequest(`{"streamId":"idle-${next++}","messageUuid":"m","message":${payload}}`),
            onAnswer,
          );
      };
      const onAnswer = (status) => {
        if (status !== 200) failed++;
        if (++answered === total) resolve();
        sendNext();
      };
      for (let i = 0; i < options.FILL_PIPELINE; i++) sendNext();
    }
  });
  const seconds = (performance.now() - started) / 1000;
  for (const connection of connections) connection.close();
  await sleep(SETTLE_MS);
  const held = server.name === 'floor' ? undefined : await server.metric('ipubsub_active_streams');
  return { baseline, rss: server.rssBytes(), seconds, failed, held };
}

async function idleStreamsFigure() {
  heading(
    'Idle streams',
    `${count(options.IDLE_STREAMS)} streams with one ${options.MESSAGE_BYTES}-byte message each, sent over ${options.FILL_CONNECTIONS} ` +
      `keep-alive connections with ${options.FILL_PIPELINE} pipelined requests each; RSS read ${SETTLE_MS / 1000} s after the last answer`,
  );
  const results = {};
  for (const [name, start] of options.FLOOR_MEMORY ? SERVERS : SERVERS.slice(0, 1)) {
    const r = (results[name] = await withServer(start, fillStreams));
    const held = r.held === undefined ? '' : `, ${count(r.held)} streams held`;
    line(
      name,
      `RSS ${mib(r.rss)} (${mib(r.baseline)} at start, ${((r.rss - r.baseline) / options.IDLE_STREAMS).toFixed(0)} B per stream)   ` +
        `filled in ${r.seconds.toFixed(1)} s (${count(options.IDLE_STREAMS / r.seconds)} sends/s)   ${r.failed} failed${held}`,
    );
  }
  return target(
    `${count(options.IDLE_STREAMS)} streams with a message each < 1 GiB RSS`,
    results.iPubSub.rss < GIB && results.iPubSub.failed === 0,
  );
}

/** At most this many sockets per client process, well inside one process's open-file limit. */
const CONNECTIONS_PER_CLIENT = 9000;
const WAIT_TIMEOUT_SECONDS = 120;

/**
 * Parks WAITERS receivers, one connection each where the server's open-file limit allows; beyond that the
 * remaining receives are pipelined on connections already open (the server parks them all the same).
 */
async function parkWaiters(server) {
  const total = options.WAITERS;
  const baseline = server.rssBytes();
  const connections = Math.min(total, server.freeFileDescriptors() - 64);
  const perConnection = Math.ceil(total / connections);
  const fullConnections = total - (perConnection - 1) * connections; // those carrying perConnection receives
  const clients = [];
  let answeredEarly = 0;
  const started = performance.now();
  // Connections [0, fullConnections) carry perConnection receives, the rest one fewer.
  for (const [first, end, depth] of [
    [0, fullConnections, perConnection],
    [fullConnections, connections, perConnection - 1],
  ]) {
    for (let from = first; from < end && depth > 0; from += CONNECTIONS_PER_CLIENT) {
      const n = Math.min(CONNECTIONS_PER_CLIENT, end - from);
      const child = spawn(
        process.execPath,
        [join(REPO_ROOT, 'bench/lib/park-receivers.mjs'), server.port, from, n, depth, WAIT_TIMEOUT_SECONDS].map(
          String,
        ),
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const connected = new Promise((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`receiver client exited with ${code}`)));
        createInterface({ input: child.stdout }).on('line', (text) => {
          if (text === 'connected') resolve();
          else answeredEarly++;
        });
      });
      clients.push({ child, connected });
    }
  }
  try {
    await Promise.all(clients.map((c) => c.connected));
    let parked = 0;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(500)) {
      parked = await server.waiterCount();
      if (parked >= total) break;
    }
    const seconds = (performance.now() - started) / 1000;
    await sleep(SETTLE_MS);
    return { baseline, rss: server.rssBytes(), parked, connections, seconds, answeredEarly };
  } finally {
    for (const { child } of clients) {
      child.removeAllListeners('exit');
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    }
  }
}

async function waitersFigure() {
  heading(
    'Waiting receivers',
    `${count(options.WAITERS)} long-polling receivers, one stream each, held by client processes; RSS read ${SETTLE_MS / 1000} s after all are parked`,
  );
  const results = {};
  for (const [name, start] of SERVERS) {
    const r = (results[name] = await withServer(start, parkWaiters));
    const sharing =
      r.connections < options.WAITERS
        ? ` (over ${count(r.connections)} connections: the open-file limit allows no more)`
        : '';
    line(
      name,
      `RSS ${mib(r.rss)} (${mib(r.baseline)} at start, ${((r.rss - r.baseline) / options.WAITERS / 1024).toFixed(1)} KiB per receiver)   ` +
        `${count(r.parked)} parked${sharing} in ${r.seconds.toFixed(1)} s   ${r.answeredEarly} answered early`,
    );
  }
  const r = results.iPubSub;
  return target(
    `${count(options.WAITERS)} waiting receivers < 300 MiB RSS`,
    r.rss < 300 * MIB && r.parked >= options.WAITERS && r.answeredEarly === 0,
  );
}

const verdicts = [];
if (selected('idle-streams')) verdicts.push(await idleStreamsFigure());
if (selected('waiters')) verdicts.push(await waitersFigure());
summary('Targets (memory)', verdicts);
