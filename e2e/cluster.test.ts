import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterAuth } from '../apps/server/src/cluster/auth.js';
import { expectError, scrapeMetrics, waitForWaiters } from './support/api-helpers.js';
import { drain, freeUdpPort, send, TestCluster } from './support/cluster.js';
import { ServerProcess } from './support/server.js';

const NAMES = ['node-1', 'node-2', 'node-3'];

describe('a three-node cluster', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('forms: every node sees the same ring of three live members', async () => {
    for (const name of NAMES) {
      const view = await cluster.view(cluster.node(name));
      expect(view.self).toBe(name);
      expect(view.joined).toBe(true);
      expect(view.ring).toEqual(NAMES);
      expect(view.members.map((member) => [member.name, member.state]).sort()).toEqual(NAMES.map((n) => [n, 'alive']));
    }
    const ready = await fetch(`${cluster.node('node-2').url}/ready`);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.cluster).toBe('ok');
  });

  it('spreads streams over all three owners, and every node agrees on each owner', async () => {
    const owners = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const streamId = `spread-${i}`;
      const seen = await Promise.all(NAMES.map((name) => cluster.ownerOf(streamId, cluster.node(name))));
      expect(new Set(seen).size).toBe(1);
      owners.set(seen[0], (owners.get(seen[0]) ?? 0) + 1);
    }
    expect([...owners.keys()].sort()).toEqual(NAMES);
  });

  it('a message sent to node 1 is received once through node 3 (owner node 2)', async () => {
    const streamId = await cluster.streamOwnedBy('node-2', 'once');
    const sent = await cluster.node('node-1').send({ streamId, messageUuid: 'm-1', message: { hello: 'cluster' } });
    expect(sent.status).toBe(200);
    const sentBody = (await sent.json()) as { timestamp: string };

    const received = await cluster.node('node-3').receive({ streamId, timeoutSeconds: 5 });
    expect(received.status).toBe(200);
    expect(await received.json()).toEqual({
      messageUuid: 'm-1',
      message: { hello: 'cluster' },
      timestamp: sentBody.timestamp,
    });
    for (const name of NAMES)
      expect((await cluster.node(name).receive({ streamId, timeoutSeconds: 0 })).status).toBe(424);
  });

  it('a long poll through a non-owner is woken by a send through another non-owner', async () => {
    const streamId = await cluster.streamOwnedBy('node-3', 'wake');
    const polling = cluster.node('node-1').receive({ streamId, timeoutSeconds: 20 });
    await waitForWaiters(cluster.node('node-3'), 1);
    await send(cluster.node('node-2'), streamId, 'wake-1', 'up');
    const res = await polling;
    // Woken with the message: at the end of its 20 s the poll would have answered 424.
    expect(res.status).toBe(200);
    expect(((await res.json()) as { messageUuid: string }).messageUuid).toBe('wake-1');
  });

  it('competing receivers spread over all nodes each get exactly one message', async () => {
    const streamId = await cluster.streamOwnedBy('node-1', 'compete');
    const receivers = Array.from({ length: 9 }, (_, i) =>
      cluster.node(NAMES[i % 3]).receive({ streamId, timeoutSeconds: 20 }),
    );
    await waitForWaiters(cluster.node('node-1'), 9);
    for (let i = 0; i < 9; i++) await send(cluster.node(NAMES[(i + 1) % 3]), streamId, `c-${i}`, i);
    const answers = await Promise.all(receivers);
    const got = await Promise.all(
      answers.map(async (res) => {
        expect(res.status).toBe(200);
        return ((await res.json()) as { messageUuid: string }).messageUuid;
      }),
    );
    expect(got.sort()).toEqual(Array.from({ length: 9 }, (_, i) => `c-${i}`).sort());
  });

  it('keeps send order through any mix of entry nodes', async () => {
    const streamId = await cluster.streamOwnedBy('node-2', 'order');
    for (let i = 0; i < 60; i++) await send(cluster.node(NAMES[i % 3]), streamId, `o-${i}`, i);
    const messages = await drain(cluster.node('node-3'), streamId);
    expect(messages.map((message) => message.message)).toEqual(Array.from({ length: 60 }, (_, i) => i));
  });

  it('forwards stored-mode requests to the owner like in-memory ones', async () => {
    const streamId = await cluster.streamOwnedBy('node-3', 'stored');
    const forwarded = async (): Promise<number> =>
      (await scrapeMetrics(cluster.node('node-1'))).get('ipubsub_cluster_forwarded_requests_total{outcome="ok"}') ?? 0;
    const before = await forwarded();
    await cluster.node('node-1').send({ streamId, messageUuid: 's-1', message: 'kept', writeToDB: true });
    await cluster.node('node-1').receive({ streamId, readFromDB: true, timeoutSeconds: 0 });
    expect(await forwarded()).toBe(before + 2);
  });

  it('a client hanging up aborts the forwarded long poll, and the next message is not swallowed', async () => {
    const streamId = await cluster.streamOwnedBy('node-2', 'hangup');
    const controller = new AbortController();
    const polling = cluster
      .node('node-1')
      .receive({ streamId, timeoutSeconds: 30 }, { signal: controller.signal })
      .catch(() => 'aborted');
    await waitForWaiters(cluster.node('node-2'), 1);
    controller.abort();
    expect(await polling).toBe('aborted');
    await waitForWaiters(cluster.node('node-2'), 0);
    await send(cluster.node('node-3'), streamId, 'after-hangup', 1);
    expect((await drain(cluster.node('node-3'), streamId)).map((m) => m.messageUuid)).toEqual(['after-hangup']);
  });

  it('a long poll forwarded with little time left ends on time', async () => {
    const streamId = await cluster.streamOwnedBy('node-3', 'deadline');
    const started = performance.now();
    const res = await cluster.node('node-1').receive({ streamId, timeoutSeconds: 1 });
    await expectError(res, 424, 'NO_MESSAGE');
    const took = performance.now() - started;
    expect(took).toBeGreaterThan(500);
    // A hop that dropped the client's 1 s deadline would wait the default 30 s; the margin is for a loaded machine.
    expect(took).toBeLessThan(15_000);
  });

  it('refuses a forwarded request without a valid cluster signature', async () => {
    const streamId = await cluster.streamOwnedBy('node-2', 'forged');
    const forged = await fetch(
      `${cluster.node('node-2').url}/api/v1/streams/receive?streamId=${streamId}&timeoutSeconds=0`,
      {
        headers: { 'x-ipubsub-hop': '1', 'x-ipubsub-auth': `${Date.now()}.AAAA` },
      },
    );
    await expectError(forged, 400, 'INVALID_REQUEST');
    const internal = await fetch(`${cluster.node('node-2').url}/internal/v1/cluster/adopt`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ipubsub-cluster+json' },
      body: JSON.stringify({
        snapshots: [
          { streamId, capacity: 10, messages: [{ messageUuid: 'x', message: 1, timestamp: 0 }], recentUuids: [] },
        ],
      }),
    });
    await expectError(internal, 400, 'INVALID_REQUEST');
    expect((await cluster.node('node-2').receive({ streamId, timeoutSeconds: 0 })).status).toBe(424);
  });

  it('answers 503 OWNER_UNAVAILABLE rather than forwarding a third time', async () => {
    // A request that already made two hops (signed as a peer would) reaches a node that does not own it.
    const streamId = await cluster.streamOwnedBy('node-1', 'hops');
    const path = `/api/v1/streams/receive?streamId=${streamId}&timeoutSeconds=0`;
    const auth = new ClusterAuth('dev-cluster-secret-change-me-in-production');
    const res = await fetch(cluster.node('node-3').url + path, {
      headers: { 'x-ipubsub-hop': '2', 'x-ipubsub-auth': auth.signRequest('GET', path, 2) },
    });
    await expectError(res, 503, 'OWNER_UNAVAILABLE');
  });

  /**
   * Starts a node that tries to join through this cluster's seeds with `env` overriding its settings; resolves
   * with the `/ready` error it settles on once a seed has refused it. The cluster must not list it.
   */
  async function refusal(name: string, env: Record<string, string>): Promise<string> {
    const stranger = await ServerProcess.start({
      config: 'config/multi-node-1.yaml',
      waitReady: false,
      env: {
        IPUBSUB_NODE_NAME: name,
        IPUBSUB_CLUSTER_GOSSIP_PORT: String(await freeUdpPort()),
        IPUBSUB_CLUSTER_SEEDS: cluster.seeds,
        ...env,
      },
    });
    try {
      let body: { error?: string; code?: string } = {};
      for (let i = 0; i < 100 && !body.error?.includes('refused'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        body = (await (await fetch(`${stranger.url}/ready`)).json()) as { error?: string; code?: string };
      }
      expect(body.code).toBe('NOT_READY');
      for (const node of NAMES)
        expect((await cluster.view(cluster.node(node))).members.map((m) => m.name)).not.toContain(name);
      return body.error ?? '';
    } finally {
      await stranger.stop('SIGKILL');
    }
  }

  it('refuses a node of another cluster.name, which reports why it is not ready', async () => {
    expect(await refusal('stranger', { IPUBSUB_CLUSTER_NAME: 'another-cluster' })).toMatch(
      /refused by .*cluster "ipubsub-dev", not "another-cluster"/,
    );
  });

  it('refuses a node with another cluster.secret, which reports why it is not ready', async () => {
    expect(await refusal('wrong-secret', { IPUBSUB_CLUSTER_SECRET: 'not-the-secret' })).toMatch(
      /gossip was refused: gossip signed with another cluster.secret/,
    );
  });
});

describe('cluster configuration', () => {
  it('refuses to start gossiping on a wildcard address it cannot advertise', async () => {
    const start = ServerProcess.start({
      config: 'config/multi-node-1.yaml',
      env: { IPUBSUB_CLUSTER_GOSSIP_HOST: '0.0.0.0', IPUBSUB_CLUSTER_GOSSIP_PORT: String(await freeUdpPort()) },
    });
    await expect(start).rejects.toThrow(/cluster.gossip.advertise must be set/);
  });
});

describe('a single node (no seeds)', () => {
  it('owns every stream, opens no gossip socket and reports itself as the whole ring', async () => {
    const node = await ServerProcess.start({ config: 'config/single-node.yaml' });
    try {
      const view = (await (await fetch(`${node.url}/api/v1/cluster`)).json()) as {
        ring: string[];
        joined: boolean;
        members: unknown[];
      };
      expect(view.ring).toEqual(['node-1']);
      expect(view.joined).toBe(true);
      expect(view.members).toHaveLength(1);
      await send(node, 'solo', 'm', 1);
      expect((await drain(node, 'solo')).map((m) => m.messageUuid)).toEqual(['m']);
      const metrics = await scrapeMetrics(node);
      expect(metrics.get('ipubsub_cluster_forwarded_requests_total{outcome="ok"}') ?? 0).toBe(0);
    } finally {
      await node.stop();
    }
  });
});
