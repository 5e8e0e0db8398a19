// The built ESM bundle in real headless Chromium, talking to a real server on another origin (CORS).
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IPubSub } from '../src/index.ts';
import { signToken, TEST_JWT_SECRET } from '../../e2e/support/tokens.ts';
import { Servers, eventually, uniqueStream, waitingClients, type ServerProcess } from './support.ts';

const CHROMIUM = '/usr/bin/chromium';
// CI installs Chromium (.ci/run); elsewhere the test says what is missing rather than failing.
const skip = !existsSync(CHROMIUM) && process.env.CI !== 'true';

const PAGE = `<!doctype html>
<title>iPubSub SDK</title>
<script type="module">
  import { IPubSub, isForbiddenError, isValidationError } from '/sdk/index.js';

  /** Subscribes until \`count\` messages arrived; the AbortSignal of the page can stop it earlier. */
  window.collect = async (baseUrl, stream, count) => {
    const client = new IPubSub({ baseUrl });
    const seen = [];
    window.stop = new AbortController();
    for await (const msg of client.subscribe(stream, { timeoutSeconds: 10, signal: window.stop.signal })) {
      seen.push({ messageUuid: msg.messageUuid, message: msg.message });
      if (seen.length === count) break;
    }
    return seen;
  };

  window.send = async (baseUrl, stream, message) => (await new IPubSub({ baseUrl }).send(stream, message)).messageUuid;

  window.invalid = async (baseUrl) =>
    new IPubSub({ baseUrl }).send('not valid!', 1).then(() => 'sent', (error) => isValidationError(error) && error.status);
  /** Sends with a token function that gives \`first\`, then \`fresh\` when asked to refresh; the refresh flags seen. */
  window.sendRefreshing = async (baseUrl, stream, first, fresh) => {
    const asked = [];
    const client = new IPubSub({ baseUrl, token: ({ refresh }) => (asked.push(refresh), refresh ? fresh : first) });
    await client.send(stream, 'from the page');
    return asked;
  };

  /** How a subscription outside the token's scopes ends. */
  window.subscribeForbidden = async (baseUrl, token) => {
    try {
      for await (const msg of new IPubSub({ baseUrl, token }).subscribe('not-mine', { timeoutSeconds: 5 })) return 'message';
      return 'ended';
    } catch (error) {
      return isForbiddenError(error) ? error.code : String(error);
    }
  };
  /** The browser's own EventSource on a live tail: \`count\` messages, across its reconnections. */
  window.eventSource = (url, count) =>
    new Promise((resolve, reject) => {
      const source = new EventSource(url);
      const seen = [];
      let opened = 0;
      source.onopen = () => opened++;
      source.onmessage = (event) => {
        seen.push({ id: event.lastEventId, ...JSON.parse(event.data) });
        if (seen.length === count) {
          source.close();
          resolve({ seen, opened });
        }
      };
      setTimeout(() => (source.close(), reject(new Error(\`\${seen.length} of \${count} after 20 s\`))), 20_000);
    });

  /** A stored subscription through the SDK (fetch streaming of the live tail). */
  window.collectStored = async (baseUrl, stream, count) => {
    const seen = [];
    for await (const msg of new IPubSub({ baseUrl }).subscribe(stream, { fromStore: true, timeoutSeconds: 5 })) {
      seen.push(msg.message);
      if (seen.length === count) break;
    }
    return seen;
  };
  window.ready = true;
</script>`;

const servers = new Servers();
let api: ServerProcess;
/** A node with auth.mode jwt, on a third origin. */
let guarded: ServerProcess;
let site: Server;
let siteUrl: string;
let profile: string;
let browser: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (skip) return;
  // Live tails end after 2 s, so an EventSource reconnects (with Last-Event-ID) within a test.
  api = await servers.start({ env: { IPUBSUB_HTTP_CORSORIGINS: '*', IPUBSUB_EVENTS_MAXLIFETIMESECONDS: '2' } });
  guarded = await servers.start({
    env: { IPUBSUB_HTTP_CORSORIGINS: '*', IPUBSUB_AUTH_MODE: 'jwt', IPUBSUB_AUTH_JWT_SECRET: TEST_JWT_SECRET },
  });
  site = createServer((request, response) => {
    // The built ESM files as published: index.js and the chunks it imports.
    const file = /^\/sdk\/([\w.-]+\.js)$/.exec(request.url ?? '')?.[1];
    const built = file === undefined ? undefined : new URL(`../dist/${file}`, import.meta.url);
    if (built !== undefined && existsSync(built)) {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(built));
    } else if (request.url === '/favicon.ico') {
      response.writeHead(204).end();
    } else if (request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    } else {
      response.writeHead(404).end();
    }
  });
  site.listen(0, '127.0.0.1');
  await once(site, 'listening');
  siteUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}`;

  profile = mkdtempSync(join(tmpdir(), 'ipubsub-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(siteUrl);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
});

afterAll(async () => {
  if (skip) return;
  await browser?.close();
  site?.close();
  await servers.stopAll();
  rmSync(profile, { recursive: true, force: true });
});

/** What the test page (above) puts on `window`. */
interface PageApi {
  collect(baseUrl: string, stream: string, count: number): Promise<unknown[]>;
  send(baseUrl: string, stream: string, message: unknown): Promise<string>;
  invalid(baseUrl: string): Promise<number>;
  sendRefreshing(baseUrl: string, stream: string, first: string, fresh: string): Promise<boolean[]>;
  subscribeForbidden(baseUrl: string, token: string): Promise<string>;
  eventSource(url: string, count: number): Promise<unknown>;
  collectStored(baseUrl: string, stream: string, count: number): Promise<unknown[]>;
  stop: AbortController;
}

/** Starts the page's subscription to a new stream; resolves once its first poll waits on the server. */
async function startCollecting(count: number): Promise<{ stream: string; collected: Promise<unknown[]> }> {
  const stream = uniqueStream('browser');
  const collected = page.evaluate(([baseUrl, id, n]) => (window as unknown as PageApi).collect(baseUrl, id, n), [
    api.url,
    stream,
    count,
  ] as const);
  expect(await eventually(() => waitingClients(api), 1)).toBe(1);
  return { stream, collected };
}

describe.skipIf(skip)(`the SDK in headless Chromium (${CHROMIUM})`, () => {
  it('for-awaits messages sent from Node and from the page itself', async () => {
    const { stream, collected } = await startCollecting(3);

    const node = new IPubSub({ baseUrl: api.url });
    const first = await node.send(stream, { from: 'node', n: 1 });
    const second = await node.send(stream, { from: 'node', n: 2 });
    const third: string = await page.evaluate(
      ([baseUrl, id]) => (window as unknown as PageApi).send(baseUrl, id, { from: 'page', n: 3 }),
      [api.url, stream] as const,
    );
    expect(third).toMatch(/^[0-9a-f-]{36}$/);

    expect(await collected).toEqual([
      { messageUuid: first.messageUuid, message: { from: 'node', n: 1 } },
      { messageUuid: second.messageUuid, message: { from: 'node', n: 2 } },
      { messageUuid: third, message: { from: 'page', n: 3 } },
    ]);
    expect(await eventually(() => waitingClients(api), 0)).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  it('stops a waiting subscription with an AbortSignal and reports errors typed', async () => {
    const { collected } = await startCollecting(5);
    await page.evaluate(() => (window as unknown as PageApi).stop.abort());
    expect(await collected).toEqual([]);
    expect(await eventually(() => waitingClients(api), 0)).toBe(0);

    expect(await page.evaluate((baseUrl) => (window as unknown as PageApi).invalid(baseUrl), api.url)).toBe(400);
    // The 400 itself is logged by Chromium as a failed resource load; nothing else may be.
    expect(pageErrors.filter((text) => !text.includes('400'))).toEqual([]);
  });

  it('sends a bearer token across origins, refreshing it once after a 401, and ends a subscription on 403', async () => {
    const scopes = { send: ['browser-*'], receive: ['browser-*'] };
    const expired = await signToken(TEST_JWT_SECRET, scopes, { expiresIn: -60 });
    const fresh = await signToken(TEST_JWT_SECRET, scopes);
    const stream = uniqueStream('browser');
    const asked = await page.evaluate(
      ([baseUrl, id, first, second]) => (window as unknown as PageApi).sendRefreshing(baseUrl, id, first, second),
      [guarded.url, stream, expired, fresh] as const,
    );
    expect(asked).toEqual([false, true]);
    const received = await guarded.receive(
      { streamId: stream, timeoutSeconds: 0 },
      { headers: { authorization: `Bearer ${fresh}` } },
    );
    expect(((await received.json()) as { message: unknown }).message).toBe('from the page');

    const ended = await page.evaluate(
      ([baseUrl, token]) => (window as unknown as PageApi).subscribeForbidden(baseUrl, token),
      [guarded.url, fresh] as const,
    );
    expect(ended).toBe('FORBIDDEN');
  });

  it('a native EventSource replays a stored stream, follows it, and resumes after reconnecting without loss', async () => {
    const errorsBefore = pageErrors.length;
    const stream = uniqueStream('browser-tail');
    const node = new IPubSub({ baseUrl: api.url });
    for (const n of [1, 2]) await node.send(stream, n, { writeToDB: true });
    const url = `${api.url}/api/v1/streams/events?streamId=${stream}`;
    const tailing = page.evaluate(([u, n]) => (window as unknown as PageApi).eventSource(u, n), [url, 5] as const);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await node.send(stream, 3, { writeToDB: true });
    // The server ends the tail after 2 s; the browser reconnects with the last id it saw.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    for (const n of [4, 5]) await node.send(stream, n, { writeToDB: true });
    const { seen, opened } = (await tailing) as { seen: { id: string; message: number }[]; opened: number };
    expect(seen.map((event) => event.message)).toEqual([1, 2, 3, 4, 5]);
    expect(seen.every((event) => /^[A-Za-z0-9_-]+$/.test(event.id))).toBe(true);
    expect(opened).toBeGreaterThanOrEqual(2);

    const stored = await page.evaluate(
      ([baseUrl, id]) => (window as unknown as PageApi).collectStored(baseUrl, id, 5),
      [api.url, stream] as const,
    );
    expect(stored).toEqual([1, 2, 3, 4, 5]);
    expect(pageErrors.slice(errorsBefore)).toEqual([]);
  });
});
