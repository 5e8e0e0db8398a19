// Deadlines, close() and unreadable answers: against a raw TCP server that accepts connections and never answers,
// an HTTP server that answers 200 with an HTML page (a proxy's), and a real iPubSub server.
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IPubSub,
  ProtocolError,
  TimeoutError,
  isIPubSubError,
  isProtocolError,
  isTimeoutError,
  type IPubSubError,
} from '../src/index.ts';
import { Servers, eventually, uniqueStream, waitingClients, type ServerProcess } from './support.ts';

const servers = new Servers();
let server: ServerProcess;
/** Accepts every connection, reads the request and never answers. */
let silent: Server;
let silentUrl: string;
const silentSockets = new Set<Socket>();
let htmlProxy: HttpServer;
let htmlProxyUrl: string;

const urlOf = (address: unknown): string => `http://127.0.0.1:${(address as { port: number }).port}`;

beforeAll(async () => {
  server = await servers.start();
  silent = createServer((socket) => {
    silentSockets.add(socket);
    socket.on('close', () => silentSockets.delete(socket));
    socket.resume();
  });
  silent.listen(0, '127.0.0.1');
  htmlProxy = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<html><body>Please sign in</body></html>');
  });
  htmlProxy.listen(0, '127.0.0.1');
  await Promise.all([once(silent, 'listening'), once(htmlProxy, 'listening')]);
  silentUrl = urlOf(silent.address());
  htmlProxyUrl = urlOf(htmlProxy.address());
});
afterAll(async () => {
  for (const socket of silentSockets) socket.destroy();
  silent.close();
  htmlProxy.close();
  await servers.stopAll();
});

describe('requestTimeoutMs', () => {
  it('a server that never answers makes send() reject with a TimeoutError once the deadline passes', async () => {
    const client = new IPubSub({ baseUrl: silentUrl, requestTimeoutMs: 300 });
    const started = Date.now();
    const error = (await client.send(uniqueStream(), 'x').catch((e: unknown) => e)) as IPubSubError;
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ name: 'TimeoutError', status: 0, code: 'TIMEOUT' });
    expect(error.message).toContain('300 ms');
    expect(isTimeoutError(error) && isIPubSubError(error)).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(295); // not before the deadline (the test's own timeout bounds it above)
  });

  it('a long poll gets its timeoutSeconds on top of requestTimeoutMs', async () => {
    const client = new IPubSub({ baseUrl: silentUrl, requestTimeoutMs: 200 });
    const started = Date.now();
    await expect(client.receive(uniqueStream(), { timeoutSeconds: 1 })).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1195);
  });

  it('a subscription retries polls that time out, with backoff, until closed; the loop then ends', async () => {
    const retried: IPubSubError[] = [];
    const client = new IPubSub({
      baseUrl: silentUrl,
      requestTimeoutMs: 100,
      retry: { baseDelayMs: 10, maxDelayMs: 50, onRetry: (error) => retried.push(error) },
    });
    const loop = (async () => {
      const seen: unknown[] = [];
      for await (const msg of client.subscribe(uniqueStream(), { timeoutSeconds: 1 })) seen.push(msg);
      return seen;
    })();
    await eventually(async () => retried.length >= 2, true, 20_000);
    expect(retried.length).toBeGreaterThanOrEqual(2);
    expect(retried.every(isTimeoutError)).toBe(true);
    await client.close();
    expect(await loop).toEqual([]);
  });

  it('refuses a deadline that is not a positive number', () => {
    expect(() => new IPubSub({ baseUrl: server.url, requestTimeoutMs: 0 })).toThrow(RangeError);
  });

  it("a platform TimeoutError (AbortSignal.timeout's) is not taken for the client's", () => {
    expect(isTimeoutError(new DOMException('timed out', 'TimeoutError'))).toBe(false);
    expect(isIPubSubError(new DOMException('timed out', 'TimeoutError'))).toBe(false);
  });
});

describe('close()', () => {
  it('ends a running for await and a pending receive; the server drops their waiters', async () => {
    const client = new IPubSub({ baseUrl: server.url });
    const stream = uniqueStream();
    await client.send(stream, 'first');
    const seen: unknown[] = [];
    const loop = (async () => {
      for await (const msg of client.subscribe(stream, { timeoutSeconds: 30 })) seen.push(msg.message);
    })();
    const pending = client.receive(uniqueStream(), { timeoutSeconds: 30 });
    expect(await eventually(() => waitingClients(server), 2)).toBe(2);

    await client.close();
    await loop;
    expect(seen).toEqual(['first']);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(await eventually(() => waitingClients(server), 0)).toBe(0);
  });

  it('after close, calls reject at once and subscriptions yield nothing', async () => {
    const client = new IPubSub({ baseUrl: server.url });
    await client.close();
    await expect(client.send(uniqueStream(), 1)).rejects.toMatchObject({ name: 'AbortError' });
    const seen: unknown[] = [];
    for await (const msg of client.subscribe(uniqueStream())) seen.push(msg);
    expect(seen).toEqual([]);
  });

  it('await using closes the client at the end of the block', async () => {
    const stream = uniqueStream();
    let loop: Promise<void> | undefined;
    {
      await using client = new IPubSub({ baseUrl: server.url });
      loop = (async () => {
        for await (const _ of client.subscribe(stream, { timeoutSeconds: 30 })) void _;
      })();
      expect(await eventually(() => waitingClients(server), 1)).toBe(1);
    }
    await loop;
    expect(await eventually(() => waitingClients(server), 0)).toBe(0);
  });
});

describe('an answer that is not JSON', () => {
  it("a 200 with a proxy's HTML page is a ProtocolError naming the status and content type", async () => {
    const client = new IPubSub({ baseUrl: htmlProxyUrl });
    const error = (await client.send(uniqueStream(), 1).catch((e: unknown) => e)) as IPubSubError;
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ name: 'ProtocolError', status: 200, code: 'PROTOCOL_ERROR' });
    expect(error.message).toContain('200');
    expect(error.message).toContain('text/html');
    expect(error.cause).toBeInstanceOf(SyntaxError);
    expect(isProtocolError(error)).toBe(true);
  });
});
