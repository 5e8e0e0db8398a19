// Direct routing: the SDK learns the ring from GET /api/v1/cluster and sends each request to its stream's owner,
// so a cluster under SDK load forwards nothing once the client holds the ring; a ring change makes it load the
// ring again, and `routing: 'any'` (or any plain HTTP client) still reaches every stream through forwarding.
import { IPubSub } from '@ipubsub/sdk';
import { Rendezvous, RING_HASH, RING_VERSION_HEADER } from '@ipubsub/sdk/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeMetrics } from './support/api-helpers.js';
import { TestCluster } from './support/cluster.js';

const NAMES = ['node-1', 'node-2', 'node-3'];
const FORWARDED = 'ipubsub_cluster_forwarded_requests_total{outcome="ok"}';

/** Requests forwarded by all running nodes together so far. */
async function forwarded(cluster: TestCluster): Promise<number> {
  const scraped = await Promise.all(cluster.others().map((node) => scrapeMetrics(node)));
  return scraped.reduce((sum, metrics) => sum + (metrics.get(FORWARDED) ?? 0), 0);
}

/** A fetch that notes the origin of every request it passes on. */
function recordingOrigins(): { fetch: typeof fetch; origins: Set<string> } {
  const origins = new Set<string>();
  return {
    origins,
    fetch: (input, init) => {
      origins.add(new URL(input instanceof Request ? input.url : input).origin);
      return fetch(input, init);
    },
  };
}

/** Sends and receives on `streams` through `client`: one message each way per stream, batches and single reads. */
async function load(client: IPubSub, streams: string[], round: number): Promise<void> {
  await Promise.all(streams.map((stream) => client.send(stream, { round })));
  const batches = await Promise.all(
    streams.map((stream) => client.receive(stream, { maxMessages: 10, timeoutSeconds: 5 })),
  );
  for (const batch of batches) expect(batch?.messages.map((m) => m.message)).toEqual([{ round }]);
}

/** Runs rounds of `load` until one forwards nothing (the client has the ring); throws after `rounds`. */
async function untilDirect(cluster: TestCluster, client: IPubSub, streams: string[], rounds = 50): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const before = await forwarded(cluster);
    await load(client, streams, round);
    if ((await forwarded(cluster)) === before) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`still forwarding after ${rounds} rounds`);
}

describe('SDK direct routing in a three-node cluster', () => {
  let cluster: TestCluster;
  const streams = Array.from({ length: 30 }, (_, i) => `direct-${process.pid}-${i}`);

  beforeAll(async () => {
    cluster = await TestCluster.start(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("publishes the ring (hash, version, members' URLs) and every answer carries the version", async () => {
    const views = await Promise.all(NAMES.map((name) => cluster.view(cluster.node(name))));
    const { routing } = views[0];
    expect(routing.hash).toBe(RING_HASH);
    expect(routing.members.map((member) => member.name)).toEqual(NAMES);
    for (const member of routing.members) expect(member.url).toBe(cluster.node(member.name).url);
    for (const view of views) expect(view.routing).toEqual(routing);

    for (const name of NAMES) {
      const answer = await cluster.node(name).send({ streamId: streams[0], messageUuid: `v-${name}`, message: 1 });
      expect(answer.status).toBe(200);
      expect(answer.headers.get(RING_VERSION_HEADER)).toBe(routing.version);
    }
    await cluster.node('node-1').receive({ streamId: streams[0], timeoutSeconds: 0, maxMessages: 10 });
  });

  it("the SDK's owner of each stream is the server's (one hashing code, in @ipubsub/sdk)", async () => {
    const { routing } = await cluster.view(cluster.node('node-2'));
    const ring = new Rendezvous(routing.members);
    const ids = Array.from({ length: 150 }, (_, i) => `agree-${i}-${(i * 2654435761) % 1_000_003}`);
    for (const id of ids) expect(ring.owner(id)!.name).toBe(await cluster.ownerOf(id));
  });

  it('under SDK load the cluster forwards nothing once the client holds the ring', async () => {
    const recorder = recordingOrigins();
    await using client = new IPubSub({ baseUrl: cluster.node('node-1').url, fetch: recorder.fetch });
    await untilDirect(cluster, client, streams);

    const before = await forwarded(cluster);
    const subscribed: unknown[] = [];
    const subscriptions = streams.slice(0, 6).map(async (stream) => {
      for await (const msg of client.subscribe(stream, { timeoutSeconds: 5 })) {
        subscribed.push(msg.message);
        break;
      }
    });
    for (let round = 0; round < 10; round++) await load(client, streams.slice(6), round);
    await Promise.all(streams.slice(0, 6).map((stream) => client.send(stream, 'to a subscriber')));
    await Promise.all(subscriptions);
    expect(subscribed).toEqual(Array(6).fill('to a subscriber'));
    expect(await forwarded(cluster)).toBe(before);
    // Straight to each owner: every node was talked to.
    expect([...recorder.origins].sort()).toEqual(NAMES.map((name) => cluster.node(name).url).sort());
  });

  it("routing 'any' sends everything to the base URL, whose node forwards what others own", async () => {
    await using client = new IPubSub({ baseUrl: cluster.node('node-1').url, routing: 'any' });
    const notOwned = [];
    for (const stream of streams) if ((await cluster.ownerOf(stream)) !== 'node-1') notOwned.push(stream);
    const before = await forwarded(cluster);
    await Promise.all(streams.map((stream) => client.send(stream, 'through node-1')));
    expect((await forwarded(cluster)) - before).toBe(notOwned.length);
    await Promise.all(streams.map((stream) => client.receive(stream, { maxMessages: 10, timeoutSeconds: 0 })));
  });

  it('a client holding an older ring keeps working through a member leaving, then routes directly again', async () => {
    await using client = new IPubSub({ baseUrl: cluster.node('node-1').url, retry: { baseDelayMs: 50 } });
    await untilDirect(cluster, client, streams);
    const versionBefore = (await cluster.view(cluster.node('node-1'))).routing.version;

    await cluster.kill('node-3', 'SIGTERM');
    await cluster.waitForRing(['node-1', 'node-2']);
    const { routing } = await cluster.view(cluster.node('node-1'));
    expect(routing.version).not.toBe(versionBefore);
    expect(routing.members.map((member) => member.name)).toEqual(['node-1', 'node-2']);

    // Its ring still names node-3: those requests fail over to node-1, answers carry the new version, it reloads.
    await untilDirect(cluster, client, streams);
    const before = await forwarded(cluster);
    for (let round = 0; round < 3; round++) await load(client, streams, 100 + round);
    expect(await forwarded(cluster)).toBe(before);
  });
});
