import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, scrapeMetrics, uniqueStreamId, waitForGauge, waitForWaiters } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';

/** Configured limits over HTTP: 429 for waiters per stream and per node and for streams per node. */

let server: ServerProcess;

beforeAll(async () => {
  server = await ServerProcess.start({
    env: {
      IPUBSUB_LIMITS_MAXWAITERSPERSTREAM: '2',
      IPUBSUB_LIMITS_MAXWAITERSPERNODE: '3',
      IPUBSUB_LIMITS_MAXSTREAMS: '5',
      IPUBSUB_STREAMS_IDLEEVICTIONSECONDS: '0.2',
    },
  });
});

afterAll(async () => {
  await server?.stop();
});

function waitForStreams(count: number): Promise<void> {
  return waitForGauge(server, 'ipubsub_active_streams', count);
}

/** Answers the waiting receivers of a stream by sending them messages. */
async function release(streamId: string, receivers: Promise<Response>[]): Promise<void> {
  for (let i = 0; i < receivers.length; i++) {
    expect((await server.send({ streamId, messageUuid: `release-${i}`, message: i })).status).toBe(200);
  }
  for (const receiver of receivers) expect((await receiver).status).toBe(200);
}

describe('waiter limits', () => {
  it('answers 429 TOO_MANY_WAITERS beyond maxWaitersPerStream, for receivers and blocked senders', async () => {
    const streamId = uniqueStreamId('per-stream');
    const receivers = [0, 1].map(() => server.receive({ streamId, timeoutSeconds: 10 }));
    await waitForWaiters(server, 2);
    await expectError(await server.receive({ streamId, timeoutSeconds: 10 }), 429, 'TOO_MANY_WAITERS');
    // Another stream is not affected by this one's limit.
    const other = uniqueStreamId('per-stream-other');
    const elsewhere = server.receive({ streamId: other, timeoutSeconds: 10 });
    await waitForWaiters(server, 3);
    await release(streamId, receivers);
    await release(other, [elsewhere]);
    await waitForWaiters(server, 0);

    const full = uniqueStreamId('per-stream-senders');
    const options = { inMemoryStreamSize: 1, blockingSendTimeoutSeconds: 10 };
    expect((await server.send({ streamId: full, messageUuid: 'm0', message: 0, ...options })).status).toBe(200);
    const blocked = [1, 2].map((i) => server.send({ streamId: full, messageUuid: `m${i}`, message: i, ...options }));
    await waitForWaiters(server, 2);
    await expectError(
      await server.send({ streamId: full, messageUuid: 'm3', message: 3, ...options }),
      429,
      'TOO_MANY_WAITERS',
    );
    for (const expected of [0, 1, 2]) {
      const res = await server.receive({ streamId: full, timeoutSeconds: 0 });
      expect(((await res.json()) as { message: number }).message).toBe(expected);
    }
    for (const send of blocked) expect((await send).status).toBe(200);
  });

  it('answers 429 TOO_MANY_WAITERS beyond maxWaitersPerNode across streams, and recovers', async () => {
    await waitForStreams(0); // maxStreams is 5; the previous test's streams go 0.2 s after they empty
    const streams = [0, 1, 2].map((i) => uniqueStreamId(`per-node-${i}`));
    const receivers = streams.map((streamId) => server.receive({ streamId, timeoutSeconds: 10 }));
    await waitForWaiters(server, 3);
    const before = (await scrapeMetrics(server)).get('ipubsub_receives_total{outcome="rejected"}') ?? 0;
    await expectError(await server.receive({ streamId: streams[0], timeoutSeconds: 10 }), 429, 'TOO_MANY_WAITERS');
    const sync = { inMemoryStreamSize: 0, blockingSendTimeoutSeconds: 10 };
    await expectError(
      await server.send({ streamId: uniqueStreamId('per-node-sync'), messageUuid: 'm', message: 1, ...sync }),
      429,
      'TOO_MANY_WAITERS',
    );
    expect((await scrapeMetrics(server)).get('ipubsub_receives_total{outcome="rejected"}')).toBe(before + 1);
    // Requests that do not wait need no slot.
    expect((await server.send({ streamId: streams[0], messageUuid: 'direct', message: 'x' })).status).toBe(200);
    expect((await receivers[0]).status).toBe(200);
    await waitForWaiters(server, 2);
    const another = server.receive({ streamId: streams[0], timeoutSeconds: 10 });
    await waitForWaiters(server, 3);
    await release(streams[0], [another]);
    await release(streams[1], [receivers[1]]);
    await release(streams[2], [receivers[2]]);
    await waitForWaiters(server, 0);
  });
});

describe('streams per node', () => {
  it('answers 429 TOO_MANY_STREAMS for a sixth stream, serves the five, and has room once they are evicted', async () => {
    await waitForStreams(0); // the waiter tests' streams are idle and get evicted after 0.2 s
    const streams = [0, 1, 2, 3, 4].map((i) => uniqueStreamId(`limit-${i}`));
    for (const streamId of streams)
      expect((await server.send({ streamId, messageUuid: 'm1', message: 1 })).status).toBe(200);
    const sixth = uniqueStreamId('limit-6');
    await expectError(await server.send({ streamId: sixth, messageUuid: 'm1', message: 1 }), 429, 'TOO_MANY_STREAMS');
    await expectError(await server.receive({ streamId: sixth, timeoutSeconds: 5 }), 429, 'TOO_MANY_STREAMS');
    expect((await server.send({ streamId: streams[0], messageUuid: 'm2', message: 2 })).status).toBe(200);

    // Streams holding messages are never evicted ...
    await new Promise((r) => setTimeout(r, 500));
    expect((await scrapeMetrics(server)).get('ipubsub_active_streams')).toBe(5);
    // ... once emptied they are, and make room.
    for (const streamId of streams) {
      while ((await server.receive({ streamId, timeoutSeconds: 0 })).status === 200);
    }
    await waitForStreams(0);
    expect((await server.send({ streamId: sixth, messageUuid: 'm1', message: 1 })).status).toBe(200);
  });
});
