import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, stillPendingAfter, timed, uniqueStreamId, waitForWaiters } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';

/** docs/contract.md §2–3 over HTTP against the built server: send, receive, the three in-memory modes, timing. */

// Upper bounds tell the behaviour from its alternative (a wait of the 5 s blocking timeout or the 10 s long
// poll, a timeout that never fires), not how fast the server is: that is bench/http.mjs's job, and a busy
// machine is slow without a bug.
const AT_ONCE_MS = 2_500;
const NOT_LONG_AFTER_MS = 10_000;

let server: ServerProcess;

beforeAll(async () => {
  server = await ServerProcess.start();
});

afterAll(async () => {
  await server?.stop();
});

interface Received {
  messageUuid: string;
  message: unknown;
  timestamp: string;
}

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function sendOk(
  body: Record<string, unknown>,
): Promise<{ messageUuid: string; timestamp: string; duplicate?: boolean }> {
  const res = await server.send(body);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as { messageUuid: string; timestamp: string; duplicate?: boolean };
}

async function receiveOk(streamId: string, timeoutSeconds = 0): Promise<Received> {
  const res = await server.receive({ streamId, timeoutSeconds });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as Received;
}

async function expectEmpty(streamId: string): Promise<void> {
  await expectError(await server.receive({ streamId, timeoutSeconds: 0 }), 424, 'NO_MESSAGE');
}

describe('send and receive', () => {
  it('round-trips every kind of JSON value, null included', async () => {
    const streamId = uniqueStreamId('kinds');
    const values: unknown[] = [
      { type: 'welcome', userId: 123, nested: { list: [1, 'two', null, { deep: true }] } },
      [1, 2, [3, [4]]],
      'a string with "quotes", \\ backslashes, unicode ✓ and\nnewlines',
      '',
      42,
      -3.25,
      1e300,
      0,
      true,
      false,
      null,
      {},
      [],
    ];
    for (const [i, message] of values.entries()) await sendOk({ streamId, messageUuid: `m${i}`, message });
    for (const [i, message] of values.entries()) {
      const received = await receiveOk(streamId);
      expect(received.messageUuid).toBe(`m${i}`);
      expect(received.message).toStrictEqual(message);
      expect(Object.keys(received).sort()).toEqual(['message', 'messageUuid', 'timestamp']);
    }
    await expectEmpty(streamId);
  });

  it('stamps each message with an ISO-8601 UTC time set on arrival, not on receipt', async () => {
    const streamId = uniqueStreamId('timestamp');
    const before = Date.now();
    const sent = await sendOk({ streamId, messageUuid: 'm1', message: 'x' });
    const after = Date.now();
    expect(sent.timestamp).toMatch(ISO_UTC);
    const stamped = Date.parse(sent.timestamp);
    expect(stamped).toBeGreaterThanOrEqual(before - 1);
    expect(stamped).toBeLessThanOrEqual(after + 1);
    await new Promise((r) => setTimeout(r, 300));
    const received = await receiveOk(streamId);
    expect(received.timestamp).toBe(sent.timestamp);
  });

  it('accepts every allowed streamId character and the longest allowed id', async () => {
    for (const streamId of ['a-b_c.d:e@f/g', `${uniqueStreamId('long')}-`.padEnd(256, 'x')]) {
      await sendOk({ streamId, messageUuid: 'm1', message: 1 });
      expect((await receiveOk(streamId)).message).toBe(1);
    }
    await sendOk({ streamId: 'u', messageUuid: 'x'.repeat(128), message: 1 });
    expect((await receiveOk('u')).messageUuid).toBe('x'.repeat(128));
  });

  it('delivers in send order (FIFO)', async () => {
    const streamId = uniqueStreamId('fifo');
    for (let i = 0; i < 30; i++) await sendOk({ streamId, messageUuid: `m${i}`, message: i });
    const order: unknown[] = [];
    for (let i = 0; i < 30; i++) order.push((await receiveOk(streamId)).message);
    expect(order).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('keeps streams apart', async () => {
    const [a, b] = [uniqueStreamId('apart-a'), uniqueStreamId('apart-b')];
    await sendOk({ streamId: a, messageUuid: 'm1', message: 'for a' });
    await expectEmpty(b);
    expect((await receiveOk(a)).message).toBe('for a');
  });

  it('gives each message to exactly one of several competing receivers', async () => {
    const streamId = uniqueStreamId('competing');
    const receivers = Array.from({ length: 4 }, () => server.receive({ streamId, timeoutSeconds: 10 }));
    await waitForWaiters(server, 4);
    for (let i = 0; i < 4; i++) await sendOk({ streamId, messageUuid: `m${i}`, message: i });
    const bodies = await Promise.all(
      receivers.map(async (r) => {
        const res = await r;
        expect(res.status).toBe(200);
        return (await res.json()) as Received;
      }),
    );
    expect(bodies.map((b) => b.message).sort()).toEqual([0, 1, 2, 3]);
    await expectEmpty(streamId);
  });

  it('answers a batch receive (maxMessages) with up to that many messages, oldest first', async () => {
    const streamId = uniqueStreamId('batch');
    for (let i = 0; i < 5; i++) await sendOk({ streamId, messageUuid: `m${i}`, message: i });
    const first = await server.receive({ streamId, timeoutSeconds: 0, maxMessages: 3 });
    expect(first.status).toBe(200);
    const batch = (await first.json()) as { messages: Received[] };
    expect(batch.messages.map((m) => m.message)).toEqual([0, 1, 2]);
    for (const m of batch.messages) expect(m.timestamp).toMatch(ISO_UTC);
    const rest = (await (await server.receive({ streamId, timeoutSeconds: 0, maxMessages: 10 })).json()) as {
      messages: Received[];
    };
    expect(rest.messages.map((m) => m.message)).toEqual([3, 4]);
    await expectError(await server.receive({ streamId, timeoutSeconds: 0, maxMessages: 2 }), 424, 'NO_MESSAGE');
    // A waiting batch receiver is answered with what arrives.
    const waiting = server.receive({ streamId, timeoutSeconds: 10, maxMessages: 5 });
    await waitForWaiters(server, 1);
    await sendOk({ streamId, messageUuid: 'late', message: 'late' });
    expect(((await (await waiting).json()) as { messages: Received[] }).messages.map((m) => m.message)).toEqual([
      'late',
    ]);
  });

  it("stores a retried messageUuid once and answers the retry with the original's timestamp", async () => {
    const streamId = uniqueStreamId('dedup');
    const first = await sendOk({ streamId, messageUuid: 'same', message: 'first' });
    expect(first.duplicate).toBeUndefined();
    // Retries arrive some milliseconds later, so an answer stamped with the retry's own arrival would differ.
    await sleep(20);
    const original = { messageUuid: 'same', timestamp: first.timestamp, duplicate: true };
    expect(await sendOk({ streamId, messageUuid: 'same', message: 'second' })).toEqual(original);
    expect(await receiveOk(streamId)).toEqual({ messageUuid: 'same', message: 'first', timestamp: first.timestamp });
    await expectEmpty(streamId);
    // Also after the message was consumed.
    await sleep(20);
    expect(await sendOk({ streamId, messageUuid: 'same', message: 'third' })).toEqual(original);
    await expectEmpty(streamId);
  });
});

describe('long polling', () => {
  // How fast a waiter wakes is measured by bench/http.mjs (Delivery latency); here: that it wakes, every time.
  it('wakes a waiting receiver with the message sent', async () => {
    const streamId = uniqueStreamId('wake');
    for (let i = 0; i < 20; i++) {
      const waiting = server.receive({ streamId, timeoutSeconds: 10 });
      await waitForWaiters(server, 1);
      const sent = server.send({ streamId, messageUuid: `m${i}`, message: i });
      const res = await waiting;
      expect(res.status).toBe(200);
      expect(((await res.json()) as Received).message).toBe(i);
      expect((await sent).status).toBe(200);
    }
  });

  it('answers 424 NO_MESSAGE after about the timeout (1 s)', async () => {
    const [res, ms] = await timed(server.receive({ streamId: uniqueStreamId('timeout'), timeoutSeconds: 1 }));
    await expectError(res, 424, 'NO_MESSAGE');
    console.info(`receive timeoutSeconds=1 answered 424 after ${ms.toFixed(0)} ms`);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(NOT_LONG_AFTER_MS);
  });

  it('answers timeoutSeconds=0 at once', async () => {
    const [res, ms] = await timed(server.receive({ streamId: uniqueStreamId('now'), timeoutSeconds: 0 }));
    await expectError(res, 424, 'NO_MESSAGE');
    expect(ms).toBeLessThan(AT_ONCE_MS);
  });

  it('a receiver that hangs up while waiting does not swallow the next message', async () => {
    const streamId = uniqueStreamId('hangup');
    const hangUp = new AbortController();
    const gone = server.receive({ streamId, timeoutSeconds: 10 }, { signal: hangUp.signal });
    await waitForWaiters(server, 1);
    hangUp.abort();
    await expect(gone).rejects.toThrow();
    await waitForWaiters(server, 0);
    await sendOk({ streamId, messageUuid: 'm1', message: 'kept' });
    expect((await receiveOk(streamId)).message).toBe('kept');
  });

  it('never loses a message when a receiver hangs up just as it is sent', async () => {
    // Sending right after the abort races the server noticing the hang-up; whichever wins, the message must
    // stay on the stream (taken for a gone receiver, it goes back to the head).
    const streamId = uniqueStreamId('hangup-race');
    for (let i = 0; i < 20; i++) {
      const hangUp = new AbortController();
      const gone = server.receive({ streamId, timeoutSeconds: 10 }, { signal: hangUp.signal });
      gone.catch(() => undefined);
      await waitForWaiters(server, 1);
      hangUp.abort();
      await sendOk({ streamId, messageUuid: `m${i}`, message: i });
      expect((await receiveOk(streamId, 2)).message).toBe(i);
    }
    await waitForWaiters(server, 0);
    await expectEmpty(streamId);
  });
});

describe('circular buffer (inMemoryStreamSize > 0, no blocking)', () => {
  it('drops the oldest message when full and never blocks', async () => {
    const streamId = uniqueStreamId('circular');
    for (let i = 1; i <= 5; i++) {
      const [res, ms] = await timed(server.send({ streamId, messageUuid: `m${i}`, message: i, inMemoryStreamSize: 3 }));
      expect(res.status).toBe(200);
      expect(ms).toBeLessThan(AT_ONCE_MS);
    }
    for (const expected of [3, 4, 5]) expect((await receiveOk(streamId)).message).toBe(expected);
    await expectEmpty(streamId);
  });

  it('keeps the size of the send that created the stream', async () => {
    const streamId = uniqueStreamId('size-once');
    await sendOk({ streamId, messageUuid: 'm1', message: 1, inMemoryStreamSize: 1 });
    await sendOk({ streamId, messageUuid: 'm2', message: 2, inMemoryStreamSize: 100 });
    expect((await receiveOk(streamId)).message).toBe(2);
    await expectEmpty(streamId);
  });
});

describe('blocking queue (inMemoryStreamSize > 0, blockingSendTimeoutSeconds > 0)', () => {
  it('answers 424 SEND_TIMEOUT after about the timeout when the queue stays full, and keeps no trace', async () => {
    const streamId = uniqueStreamId('blocking-full');
    const options = { inMemoryStreamSize: 1, blockingSendTimeoutSeconds: 1 };
    await sendOk({ streamId, messageUuid: 'm1', message: 1, ...options });
    const [res, ms] = await timed(server.send({ streamId, messageUuid: 'm2', message: 2, ...options }));
    await expectError(res, 424, 'SEND_TIMEOUT');
    console.info(`blocking send to a full queue, 1 s timeout, answered 424 after ${ms.toFixed(0)} ms`);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(NOT_LONG_AFTER_MS);
    expect((await receiveOk(streamId)).message).toBe(1);
    await expectEmpty(streamId);
  });

  it('completes a blocked send as soon as a receiver frees space, keeping order', async () => {
    const streamId = uniqueStreamId('blocking-space');
    const options = { inMemoryStreamSize: 2, blockingSendTimeoutSeconds: 5 };
    await sendOk({ streamId, messageUuid: 'm1', message: 1, ...options });
    await sendOk({ streamId, messageUuid: 'm2', message: 2, ...options });
    const blocked = server.send({ streamId, messageUuid: 'm3', message: 3, ...options });
    expect(await stillPendingAfter(blocked, 300)).toBe(true);
    const freedAt = performance.now();
    expect((await receiveOk(streamId)).message).toBe(1);
    const [res, ms] = await timed(blocked, freedAt);
    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(AT_ONCE_MS);
    expect((await receiveOk(streamId)).message).toBe(2);
    expect((await receiveOk(streamId)).message).toBe(3);
  });

  it('withdraws a blocked send whose client hangs up', async () => {
    const streamId = uniqueStreamId('blocking-hangup');
    const options = { inMemoryStreamSize: 1, blockingSendTimeoutSeconds: 10 };
    await sendOk({ streamId, messageUuid: 'm1', message: 1, ...options });
    const hangUp = new AbortController();
    const gone = server.send({ streamId, messageUuid: 'm2', message: 2, ...options }, { signal: hangUp.signal });
    await waitForWaiters(server, 1);
    hangUp.abort();
    await expect(gone).rejects.toThrow();
    await waitForWaiters(server, 0);
    expect((await receiveOk(streamId)).message).toBe(1);
    await expectEmpty(streamId);
  });
});

describe('sync match (inMemoryStreamSize 0, blockingSendTimeoutSeconds > 0)', () => {
  it('completes the send only when a receiver takes the message', async () => {
    const streamId = uniqueStreamId('sync');
    const sending = server.send({
      streamId,
      messageUuid: 'm1',
      message: 'hand-off',
      inMemoryStreamSize: 0,
      blockingSendTimeoutSeconds: 5,
    });
    expect(await stillPendingAfter(sending, 300)).toBe(true);
    const takenAt = performance.now();
    expect((await receiveOk(streamId)).message).toBe('hand-off');
    const [res, ms] = await timed(sending, takenAt);
    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(AT_ONCE_MS);
    await expectEmpty(streamId);
  });

  it('completes at once when a receiver is already waiting', async () => {
    const streamId = uniqueStreamId('sync-waiting');
    const waiting = server.receive({ streamId, timeoutSeconds: 10 });
    await waitForWaiters(server, 1);
    const [res, ms] = await timed(
      server.send({ streamId, messageUuid: 'm1', message: 1, inMemoryStreamSize: 0, blockingSendTimeoutSeconds: 5 }),
    );
    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(AT_ONCE_MS);
    expect(((await (await waiting).json()) as Received).message).toBe(1);
  });

  it('answers 424 SEND_TIMEOUT when no receiver comes in time, and the message is gone', async () => {
    const streamId = uniqueStreamId('sync-none');
    const [res, ms] = await timed(
      server.send({ streamId, messageUuid: 'm1', message: 1, inMemoryStreamSize: 0, blockingSendTimeoutSeconds: 1 }),
    );
    await expectError(res, 424, 'SEND_TIMEOUT');
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(NOT_LONG_AFTER_MS);
    await expectEmpty(streamId);
  });

  it('rejects inMemoryStreamSize 0 without a blocking timeout (400)', async () => {
    const res = await server.send({
      streamId: uniqueStreamId('sync-bad'),
      messageUuid: 'm1',
      message: 1,
      inMemoryStreamSize: 0,
    });
    await expectError(res, 400, 'INVALID_REQUEST');
  });
});
