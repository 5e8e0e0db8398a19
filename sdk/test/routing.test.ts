// Direct routing when the members' advertised URLs cannot be reached from the client (a load balancer in front of
// the cluster): a stand-in node answers like a cluster member (ring version header, GET /api/v1/cluster naming
// members at ports nothing listens on), and every call must still succeed through the base URL.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { IPubSub } from '../src/index.ts';
import { RING_HASH, RING_VERSION_HEADER } from '../src/ring.ts';
import { freePort } from './support.ts';

let node: Server;
let nodeUrl: string;
const served = { sends: 0, ringLoads: 0 };

beforeAll(async () => {
  const unreachable = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
  node = createServer((req, res) => {
    res.setHeader(RING_VERSION_HEADER, 'v1');
    res.setHeader('content-type', 'application/json');
    if (req.url === '/api/v1/cluster') {
      served.ringLoads++;
      const members = unreachable.map((url, i) => ({ name: `node-${i + 1}`, url }));
      res.end(JSON.stringify({ routing: { hash: RING_HASH, version: 'v1', members } }));
    } else {
      served.sends++;
      req.resume();
      res.end(JSON.stringify({ messageUuid: 'm', timestamp: new Date().toISOString() }));
    }
  });
  node.listen(0, '127.0.0.1');
  await once(node, 'listening');
  nodeUrl = `http://127.0.0.1:${(node.address() as { port: number }).port}`;
});
afterAll(() => node.close());

it('members the client cannot reach cost retries, never a failed call: it falls back to the base URL', async () => {
  await using client = new IPubSub({ baseUrl: nodeUrl, retry: { baseDelayMs: 1 } });
  for (let i = 0; i < 40; i++) await client.send(`stream-${i}`, i);
  expect(served.sends).toBe(40);
  expect(served.ringLoads).toBeGreaterThanOrEqual(1);
});

it("routing 'any' never asks for the ring", async () => {
  const before = served.ringLoads;
  await using client = new IPubSub({ baseUrl: nodeUrl, routing: 'any' });
  for (let i = 0; i < 5; i++) await client.send(`stream-${i}`, i);
  expect(served.ringLoads).toBe(before);
});
