import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IPubSub,
  IPubSubError,
  NetworkError,
  SendTimeoutError,
  ValidationError,
  isIPubSubError,
  isNetworkError,
  isSendTimeoutError,
  isValidationError,
} from '../src/index.ts';
import { Servers, freePort, recordingFetch, uniqueStream, type ServerProcess } from './support.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const FAST_RETRY = { limit: 2, baseDelayMs: 5, maxDelayMs: 20 };

const servers = new Servers();
let server: ServerProcess;
let client: IPubSub;

beforeAll(async () => {
  server = await servers.start({
    // A small body limit and one waiter per stream let the tests provoke 413 and 429.
    env: { IPUBSUB_HTTP_BODYLIMITBYTES: '1024', IPUBSUB_LIMITS_MAXWAITERSPERSTREAM: '1' },
  });
  client = new IPubSub({ baseUrl: server.url, retry: FAST_RETRY });
});
afterAll(() => servers.stopAll());

describe('send and receive', () => {
  it('round-trips a message and returns the generated messageUuid', async () => {
    const stream = uniqueStream();
    const sent = await client.send(stream, { type: 'welcome', userId: 123 });
    expect(sent.messageUuid).toMatch(UUID);
    expect(Date.parse(sent.timestamp)).not.toBeNaN();

    const received = await client.receive<{ type: string; userId: number }>(stream, { timeoutSeconds: 1 });
    expect(received).toEqual({
      messageUuid: sent.messageUuid,
      message: { type: 'welcome', userId: 123 },
      timestamp: sent.timestamp,
    });
  });

  it('carries every JSON value, null included, in send order', async () => {
    const stream = uniqueStream();
    const values = [null, 'text', 42, true, [1, 'two'], { nested: { deep: [null] } }];
    for (const value of values) await client.send(stream, value);
    const batch = await client.receive(stream, { maxMessages: 10, timeoutSeconds: 0 });
    expect(batch?.messages.map((m) => m.message)).toEqual(values);
  });

  it('receive answers null when nothing arrives in time (424)', async () => {
    const stream = uniqueStream();
    expect(await client.receive(stream, { timeoutSeconds: 0 })).toBeNull();
    expect(await client.receive(stream, { maxMessages: 5, timeoutSeconds: 0 })).toBeNull();
    const started = Date.now();
    expect(await client.receive(stream, { timeoutSeconds: 1 })).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('a long poll is answered by a send that arrives while it waits', async () => {
    const stream = uniqueStream();
    const waiting = client.receive(stream, { timeoutSeconds: 10 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const sent = await client.send(stream, 'late');
    expect(await waiting).toMatchObject({ messageUuid: sent.messageUuid, message: 'late' });
  });

  it('a send repeated with the same messageUuid is stored once', async () => {
    const stream = uniqueStream();
    const first = await client.send(stream, 'once', { messageUuid: 'order-17' });
    const again = await client.send(stream, 'once', { messageUuid: 'order-17' });
    expect(first.messageUuid).toBe('order-17');
    expect(first.duplicate).toBeUndefined();
    expect(again.duplicate).toBe(true);
    expect(await client.receive(stream, { maxMessages: 10, timeoutSeconds: 0 })).toMatchObject({
      messages: [{ messageUuid: 'order-17', message: 'once' }],
    });
  });

  it('a sync-match send completes when a receiver takes the message', async () => {
    const stream = uniqueStream();
    const receiving = client.receive(stream, { timeoutSeconds: 5 });
    const sent = await client.send(stream, 'hand-off', { inMemoryStreamSize: 0, blockingSendTimeoutSeconds: 5 });
    expect(await receiving).toMatchObject({ messageUuid: sent.messageUuid, message: 'hand-off' });
  });

  it('sends the configured headers with every request, and accepts a baseUrl with a trailing slash', async () => {
    const recorder = recordingFetch();
    const seen: Headers[] = [];
    const withHeaders = new IPubSub({
      baseUrl: `${server.url}/`,
      headers: { 'x-tenant': 'acme' },
      fetch: (input, init) => {
        seen.push(new Headers(init?.headers));
        return recorder.fetch(input, init);
      },
    });
    const stream = uniqueStream();
    await withHeaders.send(stream, 1);
    expect(await withHeaders.receive(stream, { timeoutSeconds: 0 })).toMatchObject({ message: 1 });
    expect(seen.map((headers) => headers.get('x-tenant'))).toEqual(['acme', 'acme']);
    expect(seen[0].get('content-type')).toBe('application/json');
    expect(recorder.requests[0].url).toBe(`${server.url}/api/v1/streams/send`);
  });
});

describe('errors', () => {
  it('a 400 is a ValidationError, never retried', async () => {
    const recorder = recordingFetch();
    const strict = new IPubSub({ baseUrl: server.url, fetch: recorder.fetch, retry: FAST_RETRY });

    const error = await strict.send('not a valid stream id!', 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toBeInstanceOf(IPubSubError);
    expect(error).toMatchObject({ name: 'ValidationError', status: 400, code: 'INVALID_REQUEST' });
    expect((error as Error).message).toMatch(/streamId/);

    await expect(strict.receive(uniqueStream(), { timeoutSeconds: -1 })).rejects.toMatchObject({
      name: 'ValidationError',
      status: 400,
    });
    await expect(strict.send(uniqueStream(), 'x', { inMemoryStreamSize: 0 })).rejects.toBeInstanceOf(ValidationError);
    expect(recorder.requests).toHaveLength(3);
  });

  it('a blocking send to a full stream times out with SendTimeoutError', async () => {
    const stream = uniqueStream();
    await client.send(stream, 'fills it', { inMemoryStreamSize: 1 });
    const started = Date.now();
    const error = await client
      .send(stream, 'no room', { inMemoryStreamSize: 1, blockingSendTimeoutSeconds: 1 })
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(error).toBeInstanceOf(SendTimeoutError);
    expect(error).toMatchObject({ name: 'SendTimeoutError', status: 424, code: 'SEND_TIMEOUT' });
  });

  it('a sync-match send without a receiver times out with SendTimeoutError', async () => {
    await expect(
      client.send(uniqueStream(), 'nobody', { inMemoryStreamSize: 0, blockingSendTimeoutSeconds: 1 }),
    ).rejects.toMatchObject({ name: 'SendTimeoutError', status: 424, code: 'SEND_TIMEOUT' });
  });

  it('other client errors (413) are IPubSubError with the status and code, not retried', async () => {
    const recorder = recordingFetch();
    const strict = new IPubSub({ baseUrl: server.url, fetch: recorder.fetch, retry: FAST_RETRY });
    const error = await strict.send(uniqueStream(), 'x'.repeat(2000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IPubSubError);
    expect(error).not.toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ name: 'IPubSubError', status: 413, code: 'PAYLOAD_TOO_LARGE' });
    expect(recorder.requests).toHaveLength(1);
  });

  it('429 is retried with backoff, then surfaces as IPubSubError', async () => {
    const stream = uniqueStream();
    const holder = new AbortController();
    const holding = client.receive(stream, { timeoutSeconds: 10, signal: holder.signal }).catch(() => 'aborted');
    await new Promise((resolve) => setTimeout(resolve, 200));

    const recorder = recordingFetch();
    const second = new IPubSub({ baseUrl: server.url, fetch: recorder.fetch, retry: FAST_RETRY });
    const error = await second.receive(stream, { timeoutSeconds: 10 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'IPubSubError', status: 429, code: 'TOO_MANY_WAITERS' });
    expect(recorder.requests).toHaveLength(1 + FAST_RETRY.limit);
    holder.abort();
    expect(await holding).toBe('aborted');
  });

  it('a server that is not there is a NetworkError after every retry', async () => {
    const recorder = recordingFetch();
    const nowhere = new IPubSub({
      baseUrl: `http://127.0.0.1:${await freePort()}`,
      fetch: recorder.fetch,
      retry: FAST_RETRY,
    });
    const error = await nowhere.send(uniqueStream(), 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ name: 'NetworkError', status: 0, code: 'NETWORK_ERROR' });
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(recorder.requests).toHaveLength(1 + FAST_RETRY.limit);
    // Every attempt of a send carries the same messageUuid, so the server can drop repeats.
    expect(
      new Set(recorder.requests.map((r) => (JSON.parse(r.body!) as { messageUuid: string }).messageUuid)).size,
    ).toBe(1);
  });

  it('type guards recognise errors by name, also those of another copy of the SDK', async () => {
    // The CommonJS build is a second copy of every class, as when two bundles each carry the SDK.
    const other = createRequire(import.meta.url)('../dist/index.cjs') as typeof import('../src/index.ts');
    const foreign = new other.IPubSub({ baseUrl: server.url, retry: FAST_RETRY });
    const validation = await foreign.send('bad id!', 1).catch((e: unknown) => e);
    const timeout = await foreign
      .send(uniqueStream(), 1, { inMemoryStreamSize: 0, blockingSendTimeoutSeconds: 1 })
      .catch((e: unknown) => e);
    const network = await new other.IPubSub({ baseUrl: `http://127.0.0.1:${await freePort()}`, retry: { limit: 0 } })
      .receive('s')
      .catch((e: unknown) => e);

    expect(validation).not.toBeInstanceOf(ValidationError);
    expect(isValidationError(validation)).toBe(true);
    expect(isSendTimeoutError(timeout)).toBe(true);
    expect(isNetworkError(network)).toBe(true);
    for (const error of [validation, timeout, network]) expect(isIPubSubError(error)).toBe(true);

    expect(isValidationError(timeout)).toBe(false);
    expect(isSendTimeoutError(validation)).toBe(false);
    for (const notOurs of [new Error('x'), new TypeError('x'), null, undefined, 'ValidationError', { name: 'Other' }]) {
      expect(isIPubSubError(notOurs)).toBe(false);
    }
  });
});
