import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IPubSub, type SubscriptionMessage } from '../src/index.ts';
import {
  Servers,
  answersReadFromDB,
  eventually,
  freePort,
  recordingFetch,
  uniqueStream,
  waitingClients,
  type ServerProcess,
} from './support.ts';

const FAST_RETRY = { limit: 2, baseDelayMs: 20, maxDelayMs: 200 };

const servers = new Servers();
let server: ServerProcess;
let client: IPubSub;

// Stopping a subscription must never leave a rejected promise behind.
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = await servers.start();
  client = new IPubSub({ baseUrl: server.url, retry: FAST_RETRY });
});
afterEach(async () => {
  await new Promise((resolve) => setTimeout(resolve, 10));
  expect(unhandled).toEqual([]);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await servers.stopAll();
});

/** Resolves once the server holds `count` waiting clients (a subscription's poll has arrived). */
async function untilWaiting(count: number, on = server): Promise<void> {
  expect(await eventually(() => waitingClients(on), count)).toBe(count);
}

async function sendAll(stream: string, values: unknown[]): Promise<void> {
  for (const value of values) await client.send(stream, value);
}

describe('subscribe', () => {
  it('yields the messages in order with for await, and break ends it without a waiter left', async () => {
    const stream = uniqueStream();
    await sendAll(stream, [1, 2, 3, 4, 5]);
    const seen: SubscriptionMessage<number>[] = [];
    for await (const msg of client.subscribe<number>(stream, { timeoutSeconds: 5 })) {
      seen.push(msg);
      if (seen.length === 3) break;
    }
    expect(seen.map((m) => m.message)).toEqual([1, 2, 3]);
    expect(seen[0]).toMatchObject({ resumeToken: undefined });
    expect(seen[0].messageUuid).toBeTypeOf('string');
    expect(await waitingClients(server)).toBe(0);
    // The rest stay on the stream for the next receiver.
    expect(
      (await client.receive(stream, { maxMessages: 10, timeoutSeconds: 0 }))?.messages.map((m) => m.message),
    ).toEqual([4, 5]);
  });

  it('keeps polling after 424s until a message comes', async () => {
    const stream = uniqueStream();
    const recorder = recordingFetch();
    const polling = new IPubSub({ baseUrl: server.url, fetch: recorder.fetch });
    const subscription = polling.subscribe(stream, { timeoutSeconds: 1 });
    const first = subscription.next();
    await new Promise((resolve) => setTimeout(resolve, 2300));
    await client.send(stream, 'finally');
    expect(await first).toMatchObject({ done: false, value: { message: 'finally' } });
    expect(recorder.requests.length).toBeGreaterThanOrEqual(3);
    await subscription.return();
  });

  it('allows one reader', () => {
    const subscription = client.subscribe(uniqueStream());
    subscription[Symbol.asyncIterator]();
    expect(() => subscription[Symbol.asyncIterator]()).toThrow(/one reader/);
    void subscription.return();
  });

  it('refuses timeoutSeconds 0, which would poll without pause', () => {
    expect(() => client.subscribe(uniqueStream(), { timeoutSeconds: 0 })).toThrow(RangeError);
  });

  it('serves concurrent next() calls in turn', async () => {
    const stream = uniqueStream();
    await sendAll(stream, ['a', 'b']);
    const subscription = client.subscribe<string>(stream, { timeoutSeconds: 5 });
    const [a, b] = await Promise.all([subscription.next(), subscription.next()]);
    expect([a.value?.message, b.value?.message]).toEqual(['a', 'b']);
    await subscription.return();
  });

  it('a failure retrying cannot cure ends the loop with the error', async () => {
    const loop = async (): Promise<void> => {
      for await (const msg of client.subscribe('not valid!')) void msg;
    };
    await expect(loop()).rejects.toMatchObject({ name: 'ValidationError', status: 400 });
  });
});

describe('stopping a subscription', () => {
  it('before the first request: an aborted signal makes no request at all', async () => {
    const recorder = recordingFetch();
    const counted = new IPubSub({ baseUrl: server.url, fetch: recorder.fetch });
    const signal = AbortSignal.abort();
    const seen: unknown[] = [];
    for await (const msg of counted.subscribe(uniqueStream(), { signal })) seen.push(msg);
    await expect(counted.send(uniqueStream(), 'x', { signal })).rejects.toMatchObject({ name: 'AbortError' });
    await expect(counted.receive(uniqueStream(), { signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual([]);
    expect(recorder.requests).toEqual([]);
  });

  it('while a poll waits: return() ends it at once and the server drops the waiter', async () => {
    const subscription = client.subscribe(uniqueStream(), { timeoutSeconds: 30 });
    const pending = subscription.next();
    await untilWaiting(1);
    const started = Date.now();
    await subscription.return();
    expect(await pending).toEqual({ done: true, value: undefined });
    // Not when the 30 s poll runs out; the margin is for a loaded machine.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await eventually(() => waitingClients(server), 0)).toBe(0);
    expect(await subscription.next()).toEqual({ done: true, value: undefined });
  });

  it('while a poll waits: the signal ends the for-await loop quietly and the server drops the waiter', async () => {
    const controller = new AbortController();
    const loop = (async () => {
      const seen: unknown[] = [];
      for await (const msg of client.subscribe(uniqueStream(), { timeoutSeconds: 30, signal: controller.signal })) {
        seen.push(msg);
      }
      return seen;
    })();
    await untilWaiting(1);
    const started = Date.now();
    controller.abort();
    expect(await loop).toEqual([]);
    // Not when the 30 s poll runs out; the margin is for a loaded machine.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await eventually(() => waitingClients(server), 0)).toBe(0);
  });

  it('a message that arrives after the stop stays on the stream', async () => {
    const stream = uniqueStream();
    const subscription = client.subscribe(stream, { timeoutSeconds: 30 });
    const pending = subscription.next();
    await untilWaiting(1);
    await subscription.return();
    await pending;
    await eventually(() => waitingClients(server), 0);
    await client.send(stream, 'kept');
    expect(await client.receive(stream, { timeoutSeconds: 0 })).toMatchObject({ message: 'kept' });
  });

  it('between polls: aborting in the loop body makes no further request', async () => {
    const stream = uniqueStream();
    await sendAll(stream, ['first', 'second']);
    const recorder = recordingFetch();
    const counted = new IPubSub({ baseUrl: server.url, fetch: recorder.fetch });
    const controller = new AbortController();
    const seen: unknown[] = [];
    for await (const msg of counted.subscribe(stream, { signal: controller.signal })) {
      seen.push(msg.message);
      controller.abort();
    }
    expect(seen).toEqual(['first']);
    expect(recorder.requests).toHaveLength(1);
  });

  it('between polls: aborting during the backoff after a failure ends it at once', async () => {
    const recorder = recordingFetch();
    const nowhere = new IPubSub({
      baseUrl: `http://127.0.0.1:${await freePort()}`,
      fetch: recorder.fetch,
      retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    const controller = new AbortController();
    const subscription = nowhere.subscribe(uniqueStream(), { signal: controller.signal });
    const pending = subscription.next();
    await eventually(async () => recorder.requests.length, 1);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the refused attempt has failed: now in backoff
    const started = Date.now();
    controller.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
    // Not when the 60 s backoff runs out; the margin is for a loaded machine.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(recorder.requests).toHaveLength(1);
  });

  it('receive and blocking send reject with the abort reason at once and leave no waiter', async () => {
    const stream = uniqueStream();
    const controller = new AbortController();
    const receiving = client.receive(stream, { timeoutSeconds: 30, signal: controller.signal });
    await untilWaiting(1);
    controller.abort(new Error('user left'));
    await expect(receiving).rejects.toThrow('user left');
    expect(await eventually(() => waitingClients(server), 0)).toBe(0);

    const sender = new AbortController();
    const sending = client.send(stream, 'withdrawn', {
      inMemoryStreamSize: 0,
      blockingSendTimeoutSeconds: 30,
      signal: sender.signal,
    });
    await untilWaiting(1);
    sender.abort();
    await expect(sending).rejects.toMatchObject({ name: 'AbortError' });
    expect(await eventually(() => waitingClients(server), 0)).toBe(0);
    // The sync-match message was withdrawn with its sender: nobody receives it.
    expect(await client.receive(stream, { timeoutSeconds: 0 })).toBeNull();
  });
});

describe('server restarts', () => {
  const NO_STORE =
    'needs store-backed reads: this server answers readFromDB with STORE_UNAVAILABLE (persistence not built yet)';

  /** A node on a fixed port, restarted on the same port with the same store, and a client of it. */
  async function restartableNode() {
    const port = await freePort();
    const node = { current: await servers.start({ port }) };
    const restart = async (): Promise<void> => {
      const storePath = node.current.env.IPUBSUB_STORE_PATH;
      // SIGTERM answers a waiting poll 424, so the subscription polls again and meets the restart.
      expect(await node.current.stop()).toBe(0);
      node.current = await servers.start({ port, env: { IPUBSUB_STORE_PATH: storePath } });
    };
    const sdk = new IPubSub({ baseUrl: node.current.url, retry: { baseDelayMs: 20, maxDelayMs: 200 } });
    return { node, sdk, restart };
  }

  it('an in-memory subscription reconnects to a restarted server and continues', async () => {
    const { node, sdk, restart } = await restartableNode();
    const stream = uniqueStream();
    const seen: number[] = [];
    const loop = (async () => {
      for await (const msg of sdk.subscribe<number>(stream, { timeoutSeconds: 30 })) {
        seen.push(msg.message);
        if (seen.length === 6) break;
      }
    })();

    for (const n of [1, 2, 3]) await sdk.send(stream, n);
    expect(await eventually(async () => seen.length, 3)).toBe(3);
    await untilWaiting(1, node.current);
    await restart();
    for (const n of [4, 5, 6]) await sdk.send(stream, n);
    await loop;
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await waitingClients(node.current)).toBe(0);
  });

  it('a store subscription resumes from its persisted token after a restart', async (ctx) => {
    const { node, sdk, restart } = await restartableNode();
    ctx.skip(!(await answersReadFromDB(node.current)), NO_STORE);
    const stream = uniqueStream();
    for (const n of [1, 2, 3, 4, 5]) await sdk.send(stream, n, { writeToDB: true });

    let saved: string | undefined;
    const firstRun: number[] = [];
    for await (const msg of sdk.subscribe<number>(stream, { fromStore: true, timeoutSeconds: 1 })) {
      firstRun.push(msg.message);
      saved = msg.resumeToken;
      if (firstRun.length === 3) break;
    }
    expect(firstRun).toEqual([1, 2, 3]);
    expect(saved).toBeTypeOf('string');

    // Reading the store consumes nothing: a second subscriber from the start sees every message.
    const everyone: number[] = [];
    for await (const msg of sdk.subscribe<number>(stream, { fromStore: true, timeoutSeconds: 1 })) {
      everyone.push(msg.message);
      if (everyone.length === 5) break;
    }
    expect(everyone).toEqual([1, 2, 3, 4, 5]);

    await restart();
    await sdk.send(stream, 6, { writeToDB: true });
    const resumed: number[] = [];
    const subscription = sdk.subscribe<number>(stream, { resumeToken: saved, timeoutSeconds: 1 });
    for await (const msg of subscription) {
      resumed.push(msg.message);
      if (resumed.length === 3) break;
    }
    expect(resumed).toEqual([4, 5, 6]);
    expect(subscription.resumeToken).not.toBe(saved);
  });

  it('a store subscription survives a restart while it waits, continuing from its token', async (ctx) => {
    const { node, sdk, restart } = await restartableNode();
    ctx.skip(!(await answersReadFromDB(node.current)), NO_STORE);
    const stream = uniqueStream();
    const seen: number[] = [];
    const loop = (async () => {
      for await (const msg of sdk.subscribe<number>(stream, { fromStore: true, timeoutSeconds: 30 })) {
        seen.push(msg.message);
        if (seen.length === 4) break;
      }
    })();
    for (const n of [1, 2]) await sdk.send(stream, n, { writeToDB: true });
    expect(await eventually(async () => seen.length, 2)).toBe(2);
    await restart();
    for (const n of [3, 4]) await sdk.send(stream, n, { writeToDB: true });
    await loop;
    expect(seen).toEqual([1, 2, 3, 4]);
  });
});
