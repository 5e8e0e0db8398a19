// Fan-out of one stored stream to many readers: live tails (Server-Sent Events) against the same readers
// long-polling with their resume tokens. One node (embedded SQLite); SENDERS connections store messages back to
// back for FANOUT_SECONDS while every reader follows the stream; prints messages delivered per second (summed over
// readers) and the p99 from the sender's 200 to a reader having the message.
//   node bench/fanout.mjs                       1,000 and 10,000 readers
//   FANOUT_READERS=1000 FANOUT_SECONDS=5 node bench/fanout.mjs
import { request } from 'node:http';
import { Agent } from 'node:http';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ServerUnderTest, withServer } from './lib/processes.mjs';
import { count, heading, line, ms, summary, target } from './lib/report.mjs';

const READER_COUNTS = (process.env.FANOUT_READERS ?? '1000,10000').split(',').map(Number);
const SECONDS = Number(process.env.FANOUT_SECONDS ?? 8);
const SENDERS = 16;
const TARGET = 100_000;
const POLL_BATCH = 100;

/** Stored sends, back to back on SENDERS keep-alive connections, each body carrying its send time. */
async function sendLoop(port, streamId, until) {
  const agent = new Agent({ keepAlive: true, maxSockets: SENDERS });
  let sent = 0;
  const one = () =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({
        streamId,
        messageUuid: `m-${sent++}-${Math.random()}`,
        message: { at: Date.now() },
        writeToDB: true,
      });
      const req = request(
        { port, method: 'POST', path: '/api/v1/streams/send', agent, headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      while (Date.now() < until) await one();
    }),
  );
  agent.destroy();
  return sent;
}

/** Latencies in ms from a message's send to its arrival, sampled (one message in `every`) to keep the client light. */
class Latencies {
  samples = [];
  seen = 0;
  note(json) {
    if (this.seen++ % 50 !== 0) return;
    const at = /"at":(\d+)/.exec(json);
    if (at !== null) this.samples.push(Date.now() - Number(at[1]));
  }
  p99() {
    const sorted = this.samples.sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length * 0.99)] ?? NaN;
  }
}

/** A live tail counting events (`id:` lines) as they arrive. */
function openTail(port, streamId, tally, latencies) {
  return new Promise((resolve, reject) => {
    const req = request({ port, path: `/api/v1/streams/events?streamId=${streamId}&from=now`, agent: false }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        let at = chunk.indexOf('\nid: ');
        while (at !== -1) {
          tally.delivered++;
          at = chunk.indexOf('\nid: ', at + 5);
        }
        if (chunk.startsWith('id: ')) tally.delivered++;
        latencies.note(chunk);
      });
      resolve(req);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A reader long-polling the store from its token, POLL_BATCH messages at a time. */
async function pollLoop(port, streamId, token, running, tally, latencies, agent) {
  while (running()) {
    const query = `streamId=${streamId}&readFromDB=true&timeoutSeconds=5&maxMessages=${POLL_BATCH}${
      token === undefined ? '' : `&dbResumeToken=${token}`
    }`;
    const body = await new Promise((resolve, reject) => {
      const req = request({ port, path: `/api/v1/streams/receive?${query}`, agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(res.statusCode === 200 ? text : null));
      });
      req.on('error', reject);
      req.end();
    });
    if (body === null) continue;
    const batch = JSON.parse(body);
    tally.delivered += batch.messages.length;
    for (const message of batch.messages) latencies.note(JSON.stringify(message.message));
    token = batch.dbResumeToken;
  }
}

async function measure(mode, readers) {
  return withServer(
    () => ServerUnderTest.ipubsub({ IPUBSUB_LIMITS_MAXWAITERSPERSTREAM: String(readers + 10) }),
    async (server) => {
      const streamId = `fanout-${mode}-${readers}`;
      const tally = { delivered: 0 };
      const latencies = new Latencies();
      await sendLoop(server.port, streamId, Date.now() + 200);
      let tails = [];
      let polls = [];
      // Set once every reader is in place (opening 10,000 takes a while): the measured window starts then.
      let until = Infinity;
      const running = () => Date.now() < until;
      if (mode === 'events') {
        for (let i = 0; i < readers; i += 200)
          tails.push(
            ...(await Promise.all(
              Array.from({ length: Math.min(200, readers - i) }, () =>
                openTail(server.port, streamId, tally, latencies),
              ),
            )),
          );
      } else {
        // The readers' token: after the warm-up messages, as a tail opened with from=now starts.
        const first = await fetch(
          `http://127.0.0.1:${server.port}/api/v1/streams/receive?streamId=${streamId}&readFromDB=true&timeoutSeconds=0&maxMessages=1000`,
        ).then((res) => res.json());
        const agent = new Agent({ keepAlive: true });
        polls = Array.from({ length: readers }, () =>
          pollLoop(server.port, streamId, first.dbResumeToken, running, tally, latencies, agent),
        );
      }
      await sleep(300);
      tally.delivered = 0;
      latencies.samples = [];
      const measuredFrom = Date.now();
      until = measuredFrom + SECONDS * 1000;
      const sent = await sendLoop(server.port, streamId, until);
      const seconds = (Date.now() - measuredFrom) / 1000;
      const delivered = tally.delivered;
      for (const tail of tails) tail.destroy();
      await Promise.allSettled(polls);
      return { sent, delivered, seconds, p99: latencies.p99() };
    },
  );
}

const verdicts = [];
heading(
  'Fan-out of one stored stream',
  `${SENDERS} senders storing back to back for ${SECONDS} s; load average ${loadavg()[0].toFixed(1)}`,
);
for (const readers of READER_COUNTS) {
  for (const mode of ['events', 'long-poll']) {
    const r = await measure(mode, readers);
    const perSecond = r.delivered / r.seconds;
    line(
      `${mode}`,
      `${count(readers)} readers: ${count(perSecond)} deliveries/s (${count(r.sent / r.seconds)} stored/s), p99 send→reader ${ms(r.p99)}`,
    );
    if (mode === 'events' && readers === 1000)
      verdicts.push(target(`≥ ${count(TARGET)} deliveries/s to 1,000 live tails`, perSecond >= TARGET));
  }
}
summary('Targets', verdicts);
