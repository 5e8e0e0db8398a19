import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IPubSub, type SubscriptionMessage } from '../src/index.ts';
import { Servers, eventually, uniqueStream, type ServerProcess } from './support.ts';

const servers = new Servers();
let server: ServerProcess;

beforeAll(async () => {
  // Tails end after 2 s: a subscription must reopen them from its token.
  server = await servers.start({ env: { IPUBSUB_EVENTS_MAXLIFETIMESECONDS: '2' } });
});
afterAll(() => servers.stopAll());

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
}

/** A fetch that records each request's path (without the query) and answers live tails through `tail`. */
function fetchWith(tail?: (url: string, init?: RequestInit) => Promise<Response>) {
  const paths: string[] = [];
  const wrapped: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : input.toString();
    paths.push(new URL(url).pathname);
    if (tail !== undefined && url.includes('/events?')) return tail(url, init);
    return fetch(input, init);
  };
  return { paths, fetch: wrapped };
}

async function take<T>(messages: AsyncIterable<SubscriptionMessage<T>>, count: number): Promise<T[]> {
  const seen: T[] = [];
  for await (const msg of messages) {
    seen.push(msg.message);
    if (seen.length === count) break;
  }
  return seen;
}

describe('a stored subscription over the live tail (Server-Sent Events)', () => {
  it('follows one event stream instead of a request per message, across the server ending it', async () => {
    const { paths, fetch } = fetchWith();
    const client = new IPubSub({ baseUrl: server.url, fetch });
    const stream = uniqueStream();
    for (const n of [1, 2, 3]) await client.send(stream, n, { writeToDB: true });
    const subscription = client.subscribe<number>(stream, { fromStore: true, timeoutSeconds: 1 });
    const seen: SubscriptionMessage<number>[] = [];
    const reading = (async () => {
      for await (const msg of subscription) {
        seen.push(msg);
        if (seen.length === 8) break;
      }
    })();
    expect(await eventually(async () => seen.length, 3)).toBe(3);
    expect(await eventually(() => metric('ipubsub_event_streams_open'), 1)).toBe(1);
    for (const n of [4, 5]) await client.send(stream, n, { writeToDB: true });
    expect(await eventually(async () => seen.length, 5)).toBe(5);
    // After the tail's lifetime the server ends it; the subscription reopens it from its token.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    for (const n of [6, 7, 8]) await client.send(stream, n, { writeToDB: true });
    await reading;
    expect(seen.map((m) => m.message)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(seen.every((m) => typeof m.resumeToken === 'string')).toBe(true);
    expect(subscription.resumeToken).toBe(seen[7].resumeToken);
    expect(paths.filter((p) => p.endsWith('/receive'))).toEqual([]);
    expect(paths.filter((p) => p.endsWith('/events')).length).toBeGreaterThanOrEqual(2);
    expect(await eventually(() => metric('ipubsub_event_streams_open'), 0)).toBe(0);
    // The tokens are the long poll's: a later subscription resumes from one.
    expect(await take(client.subscribe<number>(stream, { resumeToken: seen[5].resumeToken }), 2)).toEqual([7, 8]);
    await client.close();
  });

  it('long-polls from the same token when the tail is buffered on the way (a proxy), skipping nothing', async () => {
    // A proxy that buffers: the tail's answer starts, but no byte of it arrives.
    const { paths, fetch } = fetchWith(async (_url, init) => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          init?.signal?.addEventListener('abort', () => controller.error(init.signal?.reason));
        },
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    });
    const client = new IPubSub({ baseUrl: server.url, fetch });
    const stream = uniqueStream();
    for (const n of [1, 2]) await client.send(stream, n, { writeToDB: true });
    const messages = client.subscribe<number>(stream, { fromStore: true, timeoutSeconds: 1 });
    const reading = take(messages, 3);
    await client.send(stream, 3, { writeToDB: true });
    expect(await reading).toEqual([1, 2, 3]);
    expect(paths.filter((p) => p.endsWith('/events'))).toHaveLength(1);
    expect(paths.filter((p) => p.endsWith('/receive')).length).toBeGreaterThanOrEqual(3);
    await client.close();
  });

  it('long-polls against a server without the live tail (404), and eventStream: false never tries it', async () => {
    const old = fetchWith(async () => Response.json({ error: 'no such route', code: 'NOT_FOUND' }, { status: 404 }));
    const client = new IPubSub({ baseUrl: server.url, fetch: old.fetch });
    const stream = uniqueStream();
    for (const n of [1, 2]) await client.send(stream, n, { writeToDB: true });
    expect(await take(client.subscribe<number>(stream, { fromStore: true }), 2)).toEqual([1, 2]);
    await client.close();

    const polling = fetchWith();
    const plain = new IPubSub({ baseUrl: server.url, fetch: polling.fetch });
    expect(await take(plain.subscribe<number>(stream, { fromStore: true, eventStream: false }), 2)).toEqual([1, 2]);
    expect(polling.paths.filter((p) => p.endsWith('/events'))).toEqual([]);
    await plain.close();
  });
});
