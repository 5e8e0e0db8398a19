// Faults the real server does not produce on demand (a 503 burst, a connection cut mid-body, Retry-After)
// are injected in front of it through the client's `fetch` option; everything else is the real server.
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IPubSub, NetworkError } from '../src/index.ts';
import { Servers, uniqueStream, type ServerProcess } from './support.ts';

const servers = new Servers();
let server: ServerProcess;
let client: IPubSub;
/** Answers every connection with the head and half the body of a 200, then cuts the connection. */
let cutter: Server;
let cutterUrl: string;

beforeAll(async () => {
  server = await servers.start();
  client = new IPubSub({ baseUrl: server.url });
  cutter = createServer((socket) => {
    socket.once('data', () => {
      socket.write(
        'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{"messageUuid":"cut',
      );
      setTimeout(() => socket.destroy(), 20);
    });
  });
  cutter.listen(0, '127.0.0.1');
  await once(cutter, 'listening');
  cutterUrl = `http://127.0.0.1:${(cutter.address() as { port: number }).port}`;
});
afterAll(async () => {
  cutter.close();
  await servers.stopAll();
});

type Fault = (url: string, init?: RequestInit) => Promise<Response> | undefined;

/** A fetch that lets `faults[i]` answer the i-th request (when it returns something) and the real server the rest. */
function faultyFetch(...faults: Fault[]): { fetch: typeof fetch; bodies: (string | undefined)[] } {
  const bodies: (string | undefined)[] = [];
  return {
    bodies,
    fetch: (input, init) => {
      const fault = faults[bodies.length];
      bodies.push(init?.body as string | undefined);
      return fault?.(input instanceof Request ? input.url : input.toString(), init) ?? fetch(input, init);
    },
  };
}

const unavailable =
  (headers: Record<string, string> = {}): Fault =>
  () =>
    Promise.resolve(
      Response.json({ error: 'node is shutting down; retry', code: 'SHUTTING_DOWN' }, { status: 503, headers }),
    );
const refused: Fault = () => Promise.reject(new TypeError('fetch failed'));
/** The request goes to the cutter: a real socket closed halfway through the body. */
const cutMidBody: Fault = (url, init) => fetch(url.replace(server.url, cutterUrl), init);

describe('retries', () => {
  it('a 503 burst is retried with backoff, every attempt with the same messageUuid, stored once', async () => {
    const faulty = faultyFetch(unavailable(), unavailable(), unavailable());
    const sdk = new IPubSub({ baseUrl: server.url, fetch: faulty.fetch, retry: { baseDelayMs: 10 } });
    const stream = uniqueStream();
    const sent = await sdk.send(stream, 'through the burst');
    expect(faulty.bodies).toHaveLength(4);
    expect(new Set(faulty.bodies.map((body) => (JSON.parse(body!) as { messageUuid: string }).messageUuid))).toEqual(
      new Set([sent.messageUuid]),
    );
    expect(await client.receive(stream, { maxMessages: 10, timeoutSeconds: 0 })).toMatchObject({
      messages: [{ messageUuid: sent.messageUuid, message: 'through the burst' }],
    });
  });

  it('a burst longer than the retry limit surfaces the last answer', async () => {
    const faulty = faultyFetch(unavailable(), unavailable(), unavailable());
    const sdk = new IPubSub({ baseUrl: server.url, fetch: faulty.fetch, retry: { limit: 2, baseDelayMs: 1 } });
    await expect(sdk.send(uniqueStream(), 'x')).rejects.toMatchObject({
      name: 'IPubSubError',
      status: 503,
      code: 'SHUTTING_DOWN',
    });
    expect(faulty.bodies).toHaveLength(3);
  });

  it('honours Retry-After in seconds and as an HTTP date', async () => {
    const inSeconds = faultyFetch(unavailable({ 'retry-after': '1' }));
    let started = Date.now();
    await new IPubSub({ baseUrl: server.url, fetch: inSeconds.fetch, retry: { baseDelayMs: 1 } }).send(
      uniqueStream(),
      1,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);

    // An HTTP date has whole seconds: two seconds ahead is at least one second from now.
    const inDate = faultyFetch(unavailable({ 'retry-after': new Date(Date.now() + 2000).toUTCString() }));
    started = Date.now();
    await new IPubSub({ baseUrl: server.url, fetch: inDate.fetch, retry: { baseDelayMs: 1 } }).send(uniqueStream(), 1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(inDate.bodies).toHaveLength(2);
  });

  it('a wait for Retry-After ends at once when the signal aborts', async () => {
    const faulty = faultyFetch(unavailable({ 'retry-after': '60' }));
    const sdk = new IPubSub({ baseUrl: server.url, fetch: faulty.fetch, requestTimeoutMs: 120_000 });
    const controller = new AbortController();
    const sending = sdk.send(uniqueStream(), 1, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    controller.abort();
    await expect(sending).rejects.toMatchObject({ name: 'AbortError' });
    // Not after the 60 s Retry-After; the margin is for a loaded machine.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(faulty.bodies).toHaveLength(1);
  });

  it('a Retry-After beyond the deadline surfaces the answer at once instead of waiting past it', async () => {
    const faulty = faultyFetch(unavailable({ 'retry-after': '60' }));
    const sdk = new IPubSub({ baseUrl: server.url, fetch: faulty.fetch, requestTimeoutMs: 5000 });
    await expect(sdk.send(uniqueStream(), 1)).rejects.toMatchObject({ status: 503, code: 'SHUTTING_DOWN' });
    expect(faulty.bodies).toHaveLength(1);
  });

  it('a connection cut mid-body is retried, and is a NetworkError once retries run out', async () => {
    const stream = uniqueStream();
    const sent = await client.send(stream, 'after the cut');
    const faulty = faultyFetch(cutMidBody);
    const sdk = new IPubSub({ baseUrl: server.url, fetch: faulty.fetch, retry: { baseDelayMs: 1 } });
    expect(await sdk.receive(stream, { timeoutSeconds: 1 })).toMatchObject({ messageUuid: sent.messageUuid });
    expect(faulty.bodies).toHaveLength(2);

    const giveUp = new IPubSub({ baseUrl: server.url, fetch: faultyFetch(cutMidBody).fetch, retry: { limit: 0 } });
    const error = await giveUp.receive(stream, { timeoutSeconds: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });

  it('an error that is not a network failure is not retried', async () => {
    const bug = new RangeError('not a network failure');
    const faulty = faultyFetch(() => Promise.reject(bug));
    const sdk = new IPubSub({ baseUrl: server.url, fetch: faulty.fetch, retry: { baseDelayMs: 1 } });
    await expect(sdk.send(uniqueStream(), 1)).rejects.toBe(bug);
    expect(faulty.bodies).toHaveLength(1);
  });

  it('a subscription keeps going through refused connections, 503s and cut bodies', async () => {
    const stream = uniqueStream();
    // More failures in a row than the retry limit: a subscription retries until it is stopped.
    const faulty = faultyFetch(refused, unavailable(), cutMidBody, refused, unavailable(), cutMidBody, refused);
    const sdk = new IPubSub({
      baseUrl: server.url,
      fetch: faulty.fetch,
      retry: { limit: 1, baseDelayMs: 1, maxDelayMs: 5 },
    });
    await client.send(stream, 'a');
    await client.send(stream, 'b');
    const seen: unknown[] = [];
    for await (const msg of sdk.subscribe(stream, { timeoutSeconds: 5 })) {
      seen.push(msg.message);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(['a', 'b']);
    expect(faulty.bodies).toHaveLength(9);
  });

  it('onRetry hears every failure a subscription retries, with its number and wait', async () => {
    const stream = uniqueStream();
    const faulty = faultyFetch(unavailable(), refused, unavailable({ 'retry-after': '0' }));
    const heard: [string, number, number, number][] = [];
    const sdk = new IPubSub({
      baseUrl: server.url,
      fetch: faulty.fetch,
      retry: {
        limit: 0,
        baseDelayMs: 1,
        maxDelayMs: 5,
        onRetry: (error, retry, delayMs) => heard.push([error.name, error.status, retry, delayMs]),
      },
    });
    await client.send(stream, 'after three failures');
    for await (const msg of sdk.subscribe(stream, { timeoutSeconds: 5 })) {
      expect(msg.message).toBe('after three failures');
      break;
    }
    expect(heard.map(([name, status, retry]) => [name, status, retry])).toEqual([
      ['IPubSubError', 503, 1],
      ['NetworkError', 0, 2],
      ['IPubSubError', 503, 3],
    ]);
    for (const [, , , delayMs] of heard.slice(0, 2)) expect(delayMs).toBeGreaterThanOrEqual(0);
    expect(heard[2][3]).toBe(0); // Retry-After: 0
  });
});
