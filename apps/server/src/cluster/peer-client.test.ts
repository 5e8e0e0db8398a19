import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterAuth } from './auth.js';
import { PeerClient, PeerUnreachable } from './peer-client.js';

describe('PeerClient', () => {
  let server: Server | undefined;
  let peers: PeerClient | undefined;
  afterEach(async () => {
    await peers?.close();
    server?.closeAllConnections();
    server?.close();
  });

  /** A peer on a free loopback port; `connections` counts the TCP connections it accepted. */
  async function startPeer(
    serve: (req: IncomingMessage, res: ServerResponse) => void,
  ): Promise<{ base: string; connections: () => number }> {
    let connections = 0;
    server = createServer(serve).listen(0, '127.0.0.1');
    server.on('connection', () => connections++);
    await once(server, 'listening');
    return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
  }

  it('reuses a connection as soon as its answer is in: back-to-back calls open no more connections than run at once', async () => {
    const peer = await startPeer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ path: req.url, hop: req.headers['x-ipubsub-hop'] }));
    });
    peers = await PeerClient.create(new ClusterAuth(''), true);
    const client = peers;
    const workers = 16;
    const callsEach = 25;
    await Promise.all(
      Array.from({ length: workers }, async (_, worker) => {
        for (let i = 0; i < callsEach; i++) {
          const response = await client.request(peer.base, {
            method: 'GET',
            path: `/w${worker}/${i}`,
            hop: 1,
            timeoutMs: 5_000,
          });
          expect(response.status).toBe(200);
          expect(response.contentType).toBe('application/json');
          expect(JSON.parse(response.body.toString())).toEqual({ path: `/w${worker}/${i}`, hop: '1' });
        }
      }),
    );
    expect(peer.connections()).toBeLessThanOrEqual(workers);
  });

  it('abortAll ends the calls waiting on a peer that does not answer, and the next call still gets through', async () => {
    const parked: ServerResponse[] = [];
    const peer = await startPeer((req, res) => {
      if (req.url === '/park') parked.push(res);
      else res.end('ok');
    });
    peers = await PeerClient.create(new ClusterAuth(''), true);
    const waiting = [1, 2, 3].map(() =>
      peers!.request(peer.base, { method: 'GET', path: '/park', hop: 1, timeoutMs: 30_000 }),
    );
    while (parked.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));

    peers.abortAll();
    for (const call of waiting) {
      const err = await call.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PeerUnreachable);
      expect((err as PeerUnreachable).code).toBe('shutting-down');
    }
    const after = await peers.request(peer.base, {
      method: 'POST',
      path: '/next',
      hop: 0,
      body: '{}',
      timeoutMs: 5_000,
    });
    expect([after.status, after.body.toString()]).toEqual([200, 'ok']);
  });

  it('a peer that answers nothing in time: the call ends with its timeout code', async () => {
    const peer = await startPeer(() => undefined);
    peers = await PeerClient.create(new ClusterAuth(''), true);
    const err = await peers.request(peer.base, { method: 'GET', path: '/', hop: 1, timeoutMs: 200 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as PeerUnreachable).code).toBe('UND_ERR_HEADERS_TIMEOUT');
  });
});
