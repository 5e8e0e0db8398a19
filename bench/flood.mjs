// A flood of 1 MB sends (issue 11): FLOOD_SENDS of them over FLOOD_CONNECTIONS keep-alive connections, into
// 1 stream and into 100 (created with inMemoryStreamSize 100000, so only the byte limits stop them), on a
// fresh node with the default configuration and with limits.maxBufferedBytes = FLOOD_BUDGET_MIB. Prints the
// node's peak RSS, the answers by code (and whether each refusal carried Retry-After), whether other streams
// were served meanwhile, and how long after the flooded streams were read a 1 MB send is accepted again.
import { setTimeout as sleep } from 'node:timers/promises';
import { options } from './lib/options.mjs';
import { ServerUnderTest, withServer } from './lib/processes.mjs';
import { RawConnection, payloadOf, sendRequest } from './lib/raw-http.mjs';
import { count, heading, line, mib, ms, summary, target } from './lib/report.mjs';

const MIB = 2 ** 20;
const MESSAGE_BYTES = 1_000_000;
const RSS_SAMPLE_MS = 50;
const payload = payloadOf(MESSAGE_BYTES - 100);

const CONFIGS = [
  ['default config', {}],
  [
    `budget ${options.FLOOD_BUDGET_MIB} MiB`,
    { IPUBSUB_LIMITS_MAXBUFFEREDBYTES: String(options.FLOOD_BUDGET_MIB * MIB) },
  ],
];

const bigSend = (streamId, uuid) =>
  sendRequest(`{"streamId":"${streamId}","messageUuid":"${uuid}","inMemoryStreamSize":100000,"message":${payload}}`);

/** Small sends and receives on a stream of their own, one at a time, while the flood runs. */
async function probeOtherStream(server, until) {
  let ok = 0;
  let failed = 0;
  let slowest = 0;
  for (let i = 0; !until.done; i++) {
    const started = performance.now();
    try {
      const sent = await fetch(`${server.url}/api/v1/streams/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ streamId: 'probe', messageUuid: `p${i}`, message: i }),
      });
      const received = await fetch(`${server.url}/api/v1/streams/receive?streamId=probe&timeoutSeconds=0`);
      await sent.arrayBuffer();
      await received.arrayBuffer();
      if (sent.status === 200 && received.status === 200) ok++;
      else failed++;
    } catch {
      failed++;
    }
    slowest = Math.max(slowest, performance.now() - started);
    await sleep(20);
  }
  return { ok, failed, slowest };
}

/** Takes every message of the flooded streams, 100 at a time, without parsing them. */
async function readAll(server, streams) {
  let messages = 0;
  for (let s = 0; s < streams; s++) {
    for (;;) {
      const res = await fetch(
        `${server.url}/api/v1/streams/receive?streamId=flood-${s}&timeoutSeconds=0&maxMessages=100`,
      );
      const body = await res.arrayBuffer();
      if (res.status !== 200) break;
      messages += JSON.parse(Buffer.from(body).toString()).messages.length;
    }
  }
  return messages;
}

async function flood(server, streams) {
  const startRss = server.rssBytes();
  let peakRss = startRss;
  const sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, server.rssBytes());
    } catch {
      // the process has gone: reported below
    }
  }, RSS_SAMPLE_MS);
  const until = { done: false };
  const probe = probeOtherStream(server, until);
  const connections = await Promise.all(
    Array.from({ length: options.FLOOD_CONNECTIONS }, () => RawConnection.open(server.port)),
  );
  const answers = new Map();
  let withoutRetryAfter = 0;
  const started = performance.now();
  let next = 0;
  await Promise.all(
    connections.map(
      (connection) =>
        new Promise((resolve) => {
          const sendNext = () => {
            if (next >= options.FLOOD_SENDS || connection.closed) return resolve();
            const n = next++;
            connection.request(bigSend(`flood-${n % streams}`, `m${n}`), (status, body) => {
              const code = status === 200 ? '200' : `${status} ${JSON.parse(body.toString()).code}`;
              answers.set(code, (answers.get(code) ?? 0) + 1);
              sendNext();
            });
          };
          sendNext();
        }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const connection of connections) connection.close();
  until.done = true;
  const probed = await probe;
  const alive = server.child.exitCode === null && server.child.signalCode === null;
  // One refusal looked at with its headers: a 503 must say when to come back.
  const check = await fetch(`${server.url}/api/v1/streams/send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: `{"streamId":"flood-0","messageUuid":"check","inMemoryStreamSize":100000,"message":${payload}}`,
  }).catch(() => undefined);
  if (check !== undefined && check.status === 503 && check.headers.get('retry-after') === null) withoutRetryAfter++;
  await check?.arrayBuffer();
  const held = await server.metric('ipubsub_buffered_bytes');
  const read = await readAll(server, streams);
  // Once read, a 1 MB send to a fresh stream: how long until it is accepted.
  const readAt = performance.now();
  let acceptedAfterMs;
  let attempts = 0;
  for (; acceptedAfterMs === undefined && attempts < 1000; attempts++) {
    const res = await fetch(`${server.url}/api/v1/streams/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"streamId":"after","messageUuid":"a${attempts}","message":${payload}}`,
    });
    await res.arrayBuffer();
    if (res.status === 200) acceptedAfterMs = performance.now() - readAt;
    else await sleep(10);
  }
  clearInterval(sampler);
  return {
    startRss,
    peakRss,
    seconds,
    answers,
    probed,
    alive,
    held,
    read,
    acceptedAfterMs,
    attempts,
    withoutRetryAfter,
  };
}

const verdicts = [];
for (const [config, env] of CONFIGS) {
  for (const streams of [1, 100]) {
    heading(
      `Flood, ${config}, ${streams} stream${streams === 1 ? '' : 's'}`,
      `${count(options.FLOOD_SENDS)} sends of 1 MB over ${options.FLOOD_CONNECTIONS} keep-alive connections, ` +
        `inMemoryStreamSize 100000; RSS sampled every ${RSS_SAMPLE_MS} ms`,
    );
    const r = await withServer(
      () => ServerUnderTest.ipubsub(env),
      (server) => flood(server, streams),
    );
    const codes = [...r.answers].map(([code, n]) => `${code}: ${count(n)}`).join(', ');
    line('node', `${r.alive ? 'alive' : 'DIED'}; peak RSS ${mib(r.peakRss)} (${mib(r.startRss)} at start)`);
    line('answers', `${codes} in ${r.seconds.toFixed(1)} s; ${r.withoutRetryAfter} 503 without Retry-After`);
    line(
      'other',
      `probe stream: ${r.probed.ok} send+receive pairs OK, ${r.probed.failed} failed, slowest ${ms(r.probed.slowest)}`,
    );
    line(
      'after',
      `${mib(r.held)} held after the flood; ${count(r.read)} messages read back; a 1 MB send accepted ` +
        (r.acceptedAfterMs === undefined
          ? 'NEVER'
          : `${ms(r.acceptedAfterMs)} after the last read, at attempt ${r.attempts}`),
    );
    const limit = config === 'default config' ? 3 * 1024 * MIB : 700 * MIB;
    verdicts.push(
      target(`${config}, ${streams} stream(s): alive, peak RSS under ${mib(limit)}`, r.alive && r.peakRss < limit),
    );
    const refusalsOk = [...r.answers.keys()].every((code) => code === '200' || code === '503 MEMORY_FULL');
    verdicts.push(
      target(
        `${config}, ${streams} stream(s): every refusal 503 MEMORY_FULL with Retry-After`,
        refusalsOk && r.withoutRetryAfter === 0,
      ),
    );
  }
}
summary('Flood targets', verdicts);
