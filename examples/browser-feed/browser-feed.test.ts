// examples/browser-feed/index.html in headless Chromium, importing the SDK's ESM build, fed by a real node.
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IPubSub } from '@ipubsub/sdk';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerProcess } from '../../e2e/support/server.ts';

const CHROMIUM = '/usr/bin/chromium';
// CI installs Chromium (.ci/run); elsewhere the test is skipped rather than failing.
const skip = !existsSync(CHROMIUM) && process.env.CI !== 'true';
const PAGE = fileURLToPath(new URL('index.html', import.meta.url));
const SDK_DIST = fileURLToPath(new URL('../../sdk/dist/', import.meta.url));

let node: ServerProcess;
let site: Server;
let profile: string;
let browser: BrowserContext;

beforeAll(async () => {
  if (skip) return;
  node = await ServerProcess.start({ env: { IPUBSUB_HTTP_CORSORIGINS: '*' } });
  // The page and, under /sdk/, the SDK's built ESM files, as a static site would serve them.
  site = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://site').pathname;
    const sdkFile = /^\/sdk\/([\w.-]+\.js)$/.exec(path)?.[1];
    if (path === '/') response.writeHead(200, { 'content-type': 'text/html' }).end(readFileSync(PAGE));
    else if (sdkFile !== undefined && existsSync(join(SDK_DIST, sdkFile)))
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(join(SDK_DIST, sdkFile)));
    else response.writeHead(404).end();
  });
  site.listen(0, '127.0.0.1');
  await once(site, 'listening');
  profile = mkdtempSync(join(tmpdir(), 'ipubsub-example-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
});

afterAll(async () => {
  if (skip) return;
  await browser?.close();
  site?.close();
  await node?.stop();
  rmSync(profile, { recursive: true, force: true });
});

describe.skipIf(skip)('the live feed page', () => {
  it('shows each message sent to its stream, in order', async () => {
    const stream = `news-${Date.now()}`;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const siteUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}/`;
    await page.goto(`${siteUrl}?server=${encodeURIComponent(node.url)}&stream=${stream}`);
    await page.waitForFunction((id) => document.getElementById('status')?.textContent === `following ${id}`, stream);
    await using client = new IPubSub({ baseUrl: node.url });
    for (const text of ['first', 'second', { headline: 'third' }]) await client.send(stream, text);
    await page.waitForFunction(() => document.querySelectorAll('#feed li').length === 3, undefined, {
      timeout: 20_000,
    });
    const items = await page.$$eval('#feed li', (lis) => lis.map((li) => li.lastChild?.textContent));
    expect(items).toEqual(['first', 'second', '{"headline":"third"}']);
    expect(errors).toEqual([]);
  });
});
