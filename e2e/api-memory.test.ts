import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, scrapeMetrics, uniqueStreamId, waitForWaiters } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';

/**
 * The memory budget (limits.maxBufferedBytes, here 1 MiB) and the per-stream byte cap (limits.maxStreamBytes,
 * here 256 KiB) over HTTP: 503 MEMORY_FULL with Retry-After, 413 for a message no stream may hold, eviction
 * and waiting by bytes, release on receive.
 */

const BUDGET = 1024 * 1024;
const STREAM_CAP = 256 * 1024;
let server: ServerProcess;

beforeAll(async () => {
  server = await ServerProcess.start({
    env: {
      IPUBSUB_LIMITS_MAXBUFFEREDBYTES: String(BUDGET),
      IPUBSUB_LIMITS_MAXSTREAMBYTES: String(STREAM_CAP),
    },
  });
});

afterAll(async () => {
  await server?.stop();
});

/** A message whose send request is about `kib` KiB. */
const payload = (kib: number): string => 'x'.repeat(kib * 1024 - 100);

/** A send whose body goes chunked, without content-length. */
function sendChunked(body: unknown): Promise<Response> {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
  return fetch(`${server.url}/api/v1/streams/send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: stream,
    duplex: 'half',
  } as RequestInit);
}

async function receiveUuids(streamId: string): Promise<string[]> {
  const res = await server.receive({ streamId, timeoutSeconds: 0, maxMessages: 1000 });
  if (res.status === 424) return [];
  expect(res.status).toBe(200);
  return ((await res.json()) as { messages: { messageUuid: string }[] }).messages.map((m) => m.messageUuid);
}

async function bufferedBytes(): Promise<number> {
  return (await scrapeMetrics(server)).get('ipubsub_buffered_bytes')!;
}

describe('memory budget', () => {
  it('answers 503 MEMORY_FULL with Retry-After when full, keeps what it holds, and takes sends again once read', async () => {
    const streams = [0, 1, 2, 3, 4].map((i) => uniqueStreamId(`full-${i}`));
    for (const streamId of streams) {
      expect((await server.send({ streamId, messageUuid: 'm', message: payload(200) })).status).toBe(200);
    }
    expect(await bufferedBytes()).toBeGreaterThanOrEqual(5 * (200 * 1024 - 100));

    const refused = await server.send({ streamId: uniqueStreamId('more'), messageUuid: 'big', message: payload(200) });
    expect(refused.headers.get('retry-after')).toBe('1');
    const body = await expectError(refused, 503, 'MEMORY_FULL');
    expect(body.error).toContain('limits.maxBufferedBytes');
    // A stored send waits for its commit in memory too: refused alike.
    const stored = { streamId: uniqueStreamId('stored'), messageUuid: 's', message: payload(200), writeToDB: true };
    await expectError(await server.send(stored), 503, 'MEMORY_FULL');
    // Those were refused unread, by their content-length; a chunked body has none and is refused once parsed.
    for (const writeToDB of [false, true]) {
      const chunked = await sendChunked({
        streamId: uniqueStreamId('chunked'),
        messageUuid: 'c',
        message: payload(200),
        writeToDB,
      });
      expect(chunked.headers.get('retry-after')).toBe('1');
      await expectError(chunked, 503, 'MEMORY_FULL');
    }
    // Full is not unready, and small messages that fit are still taken.
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
    const small = uniqueStreamId('small');
    expect((await server.send({ streamId: small, messageUuid: 's', message: 'hi' })).status).toBe(200);
    expect(await receiveUuids(small)).toEqual(['s']);

    const metrics = await scrapeMetrics(server);
    expect(metrics.get('ipubsub_refusals_total{reason="memory_full"}')).toBeGreaterThanOrEqual(2);
    expect(metrics.get('ipubsub_buffered_bytes_limit')).toBe(BUDGET);
    await expect.poll(() => server.log, { timeout: 10_000 }).toContain('memory budget full');

    // Nothing held was dropped; reading one stream frees room at once.
    expect(await receiveUuids(streams[0])).toEqual(['m']);
    expect((await server.send({ streamId: streams[0], messageUuid: 'again', message: payload(200) })).status).toBe(200);
    for (const streamId of streams.slice(1)) expect(await receiveUuids(streamId)).toEqual(['m']);
    expect(await receiveUuids(streams[0])).toEqual(['again']);
    expect(await bufferedBytes()).toBe(0);
  });

  it('counts a blocked sender until it is taken', async () => {
    const streamId = uniqueStreamId('blocked');
    const options = { inMemoryStreamSize: 1, blockingSendTimeoutSeconds: 10 };
    expect((await server.send({ streamId, messageUuid: 'm1', message: payload(100), ...options })).status).toBe(200);
    const blocked = server.send({ streamId, messageUuid: 'm2', message: payload(100), ...options });
    await waitForWaiters(server, 1);
    expect(await bufferedBytes()).toBeGreaterThanOrEqual(2 * (100 * 1024 - 100));
    // Taking m1 lets the blocked m2 in, and the same batch takes it too.
    expect(await receiveUuids(streamId)).toEqual(['m1', 'm2']);
    expect((await blocked).status).toBe(200);
    expect(await bufferedBytes()).toBe(0);
  });
});

describe('per-stream byte cap', () => {
  it('answers 413 PAYLOAD_TOO_LARGE for a single message larger than a stream may hold', async () => {
    const res = await server.send({ streamId: uniqueStreamId('huge'), messageUuid: 'h', message: payload(300) });
    const body = await expectError(res, 413, 'PAYLOAD_TOO_LARGE');
    expect(body.error).toContain('limits.maxStreamBytes');
    expect((await scrapeMetrics(server)).get('ipubsub_refusals_total{reason="too_large"}')).toBeGreaterThanOrEqual(1);
  });

  it('a circular buffer evicts its oldest messages by bytes', async () => {
    const streamId = uniqueStreamId('evict');
    for (const uuid of ['a', 'b', 'c']) {
      expect((await server.send({ streamId, messageUuid: uuid, message: payload(100) })).status).toBe(200);
    }
    expect(await receiveUuids(streamId)).toEqual(['b', 'c']);
  });

  it('a blocking queue waits for bytes to free, then answers 424 after its timeout', async () => {
    const streamId = uniqueStreamId('wait-bytes');
    const options = { blockingSendTimeoutSeconds: 1 };
    for (const uuid of ['a', 'b']) {
      expect((await server.send({ streamId, messageUuid: uuid, message: payload(100), ...options })).status).toBe(200);
    }
    const waited = await server.send({ streamId, messageUuid: 'c', message: payload(100), ...options });
    await expectError(waited, 424, 'SEND_TIMEOUT');
    expect(await receiveUuids(streamId)).toEqual(['a', 'b']);
    expect(await bufferedBytes()).toBe(0);
  });
});
