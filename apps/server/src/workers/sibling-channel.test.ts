import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as get, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PeerUnreachable, type DirectBody, type PeerRequest } from '../cluster/index.js';
import { SiblingChannel } from './sibling-channel.js';

const OWNER = 'http://127.0.0.1:9002';

/** A channel to one sibling whose HTTP server answers with `handle`, over a socket in a fresh directory. */
async function channelTo(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const directory = mkdtempSync(join(tmpdir(), 'ipubsub-channel-'));
  const socket = join(directory, 'w2.sock');
  const http = createServer(handle);
  await new SiblingChannel(new Map(), socket).listen(http, 1024 * 1024);
  const channel = new SiblingChannel(new Map([[OWNER, socket]]), join(directory, 'w1.sock'));
  cleanups.push(() => {
    channel.close();
    http.emit('close'); // never listened on: this closes its channel
    rmSync(directory, { recursive: true, force: true });
  });
  return { channel, http, directory };
}
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

const request = (overrides: Partial<PeerRequest> = {}): PeerRequest => ({
  method: 'GET',
  path: '/api/v1/streams/receive?streamId=s',
  hop: 1,
  timeoutMs: 10_000,
  ...overrides,
});

const failure = (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'answered',
    (err: unknown) => (err instanceof PeerUnreachable ? err.code : String(err)),
  );

describe('SiblingChannel', () => {
  it('carries method, path, the signed headers and body to the owner, and its status, type, Retry-After and body back', async () => {
    const seen: unknown[] = [];
    const { channel } = await channelTo((req, res) => {
      let body = '';
      (req as IncomingMessage & DirectBody).readBody({
        chunk: (bytes) => (body += bytes.toString()),
        end: () => {
          seen.push([req.method, req.url, { ...req.headers }, body]);
          res.setHeader('retry-after', '1');
          res.writeHead(503, { 'content-type': 'application/json' }).end('{"code":"MEMORY_FULL"}');
        },
      });
    });
    const body = JSON.stringify({ streamId: 'é' });
    const answer = await channel.request(
      OWNER,
      request({ method: 'POST', path: '/send', body, grant: 'send é' }),
      '1700000000000.c2lnbmVk',
    );
    const headers = {
      'x-ipubsub-hop': '1',
      'x-ipubsub-grant': 'send é',
      'x-ipubsub-auth': '1700000000000.c2lnbmVk',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
    };
    expect(seen).toEqual([['POST', '/send', headers, body]]);
    expect([answer.status, answer.contentType, answer.retryAfter, answer.body.toString()]).toEqual([
      503,
      'application/json',
      '1',
      '{"code":"MEMORY_FULL"}',
    ]);
    expect(channel.calls).toBe(1);
  });

  it('a call past its deadline fails with timeout and the owner hears a hang-up; so does one given up on', async () => {
    const hungUp: string[] = [];
    const { channel } = await channelTo((req) => req.socket.on('close', () => hungUp.push(req.url!)));
    expect(await failure(channel.request(OWNER, request({ path: '/late', timeoutMs: 10 }), ''))).toBe('timeout');
    const abandoned = failure(channel.request(OWNER, request({ path: '/left' }), ''));
    await new Promise((resolve) => setTimeout(resolve, 50));
    channel.retainOnly(new Set());
    expect(await abandoned).toBe('peer-left');
    for (let i = 0; i < 100 && hungUp.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(hungUp.sort()).toEqual(['/late', '/left']);
  });

  it('an answer the owner breaks off fails as a reset, and a sibling that is not there as a refused connection', async () => {
    const { channel, directory } = await channelTo((_req, res) => res.destroy());
    expect(await failure(channel.request(OWNER, request(), ''))).toBe('ECONNRESET');
    const nobody = new SiblingChannel(new Map([[OWNER, join(directory, 'none.sock')]]), join(directory, 'x.sock'));
    expect(await failure(nobody.request(OWNER, request(), ''))).toBe('ECONNREFUSED');
    nobody.close();
  });

  it('a client hanging up ends its call as client-hung-up', async () => {
    const { channel } = await channelTo(() => undefined);
    const client = createServer();
    cleanups.push(() => client.close());
    client.listen(0, '127.0.0.1');
    await once(client, 'listening');
    const answering = new Promise<ServerResponse>((resolve) => client.once('request', (_req, res) => resolve(res)));
    const { port } = client.address() as { port: number };
    const outgoing = get({ port, host: '127.0.0.1' });
    outgoing.on('error', () => undefined);
    outgoing.end();
    const res = await answering;
    const call = failure(channel.request(OWNER, request({ answering: res }), ''));
    outgoing.destroy();
    expect(await call).toBe('client-hung-up');
  });
});
