import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createScratchDatabase,
  testServerUrl,
  type ScratchDatabase,
} from '../apps/server/src/store/testing/scratch-database.js';
import { expectError, readStoredUuids, scrapeMetrics } from './support/api-helpers.js';
import { TestCluster } from './support/cluster.js';
import type { ServerProcess } from './support/server.js';
import { EventStreamReader } from './support/sse.js';
import { killOwnerUnderLoad, type FailoverFigures } from './support/stored-failover.js';

/** bench/failover.mjs runs this file with the 100 × 100 sends; the suite's default is smaller. */
const STREAMS = Number(process.env.FAILOVER_STREAMS ?? 30);
const PER_STREAM = Number(process.env.FAILOVER_PER_STREAM ?? 40);
const postgresUrl = testServerUrl('postgres');

/**
 * Kills node-2 under load and restarts it (support/stored-failover.ts); prints the figures (bench/failover.mjs
 * reads them) and checks nothing was lost, and what reads of its streams answered meanwhile.
 */
async function ownerKilledUnderLoad(cluster: TestCluster, store: string, outageStatus: string): Promise<void> {
  const figures = await killOwnerUnderLoad(cluster, {
    streams: STREAMS,
    perStream: PER_STREAM,
    victim: 'node-2',
    downMs: 3_000,
  });
  console.info(`failover figures (${store}): ${JSON.stringify(figures)}`);
  expectNothingLost(figures);
  expect(Object.keys(figures.outageReads)).toEqual([outageStatus]);
}

function expectNothingLost(figures: FailoverFigures): void {
  expect(figures.acknowledged).toBe(STREAMS * PER_STREAM);
  expect(figures.unreadable).toBe(0);
  expect(figures.duplicates).toBe(0);
  expect(figures.misordered).toBe(0);
  expect(figures.gapReports).toBe(0);
  expect(figures.tokensResumed).toBe(figures.tokensTaken);
  expect(figures.tokensTaken).toBeGreaterThan(STREAMS);
}

async function sendStored(node: ServerProcess, streamId: string, messageUuid: string): Promise<void> {
  const res = await node.send({ streamId, messageUuid, message: messageUuid, writeToDB: true });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** Every stored message of the stream read through `node` from `token` (none: the start), with no gap. */
async function readStored(node: ServerProcess, streamId: string, token?: string): Promise<string[]> {
  const { uuids, gaps } = await readStoredUuids(node, streamId, token);
  expect(gaps).toBe(0);
  return uuids;
}

async function tokenAfterFirst(node: ServerProcess, streamId: string): Promise<string> {
  const res = await node.receive({ streamId, readFromDB: true, timeoutSeconds: 0 });
  expect(res.status).toBe(200);
  return ((await res.json()) as { dbResumeToken: string }).dbResumeToken;
}

/**
 * node-3, owner of a stream, leaves (SIGTERM) and rejoins: everything stored before, while away and after reads
 * back through every member, from the start and from tokens taken before and while it was away.
 */
async function leaveAndRejoin(cluster: TestCluster): Promise<void> {
  const streamId = await cluster.streamOwnedBy('node-3', 'leave');
  const sent = Array.from({ length: 30 }, (_, i) => `before-${i}`);
  for (const uuid of sent) await sendStored(cluster.node('node-1'), streamId, uuid);
  const token = await tokenAfterFirst(cluster.node('node-3'), streamId);

  expect(await cluster.kill('node-3', 'SIGTERM')).toBe(0);
  await cluster.waitForRing(['node-1', 'node-2']);
  for (const node of cluster.others()) expect(await readStored(node, streamId)).toEqual(sent);
  expect(await readStored(cluster.node('node-2'), streamId, token)).toEqual(sent.slice(1));
  const whileAway = Array.from({ length: 10 }, (_, i) => `away-${i}`);
  for (const uuid of whileAway) await sendStored(cluster.node('node-2'), streamId, uuid);
  const tokenWhileAway = await tokenAfterFirst(cluster.node('node-1'), streamId);

  await cluster.startNode('node-3');
  await cluster.waitForRing(['node-1', 'node-2', 'node-3']);
  expect(await cluster.ownerOf(streamId)).toBe('node-3');
  await sendStored(cluster.node('node-1'), streamId, 'after');
  const all = [...sent, ...whileAway, 'after'];
  for (const node of cluster.others()) expect(await readStored(node, streamId)).toEqual(all);
  expect(await readStored(cluster.node('node-1'), streamId, token)).toEqual(all.slice(1));
  expect(await readStored(cluster.node('node-3'), streamId, tokenWhileAway)).toEqual(all.slice(1));
}

/**
 * Three nodes, a kill, a restart and two ring changes per test, and the scenario's sends: generous on a loaded
 * machine, and growing with the size bench/failover.mjs asks for (its own --testTimeout does not override this).
 */
const CLUSTER_TEST = { timeout: 60_000 + STREAMS * PER_STREAM * 100 };

describe(
  'stored streams when members go and come back: embedded SQLite with store.allowNodeLocalInCluster',
  CLUSTER_TEST,
  () => {
    let cluster: TestCluster;

    beforeAll(async () => {
      // The shipped config/multi-node-*.yaml, which opt in.
      cluster = await TestCluster.start(3);
    });
    afterAll(async () => {
      await cluster?.stop();
    });

    it('an owner SIGKILLed under load and restarted: every acknowledged message is readable once, in order, through any member and from any token', async () => {
      // While its home was down, a stream's stored messages were refused with a retryable 503 — never a 424.
      await ownerKilledUnderLoad(cluster, 'sqlite, opt-in', '503');
    });

    it('a member that leaves (SIGTERM) hands its stored messages to the next homes and takes them back when it rejoins', async () => {
      await leaveAndRejoin(cluster);
      // The rejoined node took back at least the 10 messages stored while it was away.
      const copiedIn = (await scrapeMetrics(cluster.node('node-3'))).get(
        'ipubsub_cluster_stored_copies_total{direction="in"}',
      );
      expect(copiedIn).toBeGreaterThanOrEqual(10);
    });

    it("a live tail (Server-Sent Events) opened at any member is relayed from the stream's home and sees every message", async () => {
      const streamId = await cluster.streamOwnedBy('node-1', 'tail');
      await sendStored(cluster.node('node-2'), streamId, 'tail-1');
      for (const node of cluster.others()) {
        const reader = await EventStreamReader.open(
          `${node.url}/api/v1/streams/events?streamId=${encodeURIComponent(streamId)}`,
        );
        expect(reader.response.status).toBe(200);
        const [replayed] = await reader.messages(1);
        expect(JSON.parse(replayed.data)).toMatchObject({ messageUuid: 'tail-1' });
        reader.close();
      }
      const reader = await EventStreamReader.open(
        `${cluster.node('node-3').url}/api/v1/streams/events?streamId=${encodeURIComponent(streamId)}`,
      );
      await reader.messages(1);
      await sendStored(cluster.node('node-2'), streamId, 'tail-2');
      const [live] = await reader.messages(1);
      expect(JSON.parse(live.data)).toMatchObject({ messageUuid: 'tail-2' });
      reader.close();
    });

    it('a member that never comes back: its stored streams answer 503 naming it, never 424; the others go on', async () => {
      const lost = await cluster.streamOwnedBy('node-3', 'gone');
      const kept = await cluster.streamOwnedBy('node-1', 'kept');
      await sendStored(cluster.node('node-1'), lost, 'lost-1');
      await sendStored(cluster.node('node-2'), kept, 'kept-1');

      await cluster.kill('node-3', 'SIGKILL');
      await cluster.waitForRing(['node-1', 'node-2']);
      for (const node of cluster.others()) {
        const read = await node.receive({ streamId: lost, readFromDB: true, timeoutSeconds: 5 });
        expect((await expectError(read, 503, 'OWNER_UNAVAILABLE')).error).toContain('node-3');
        const send = await node.send({ streamId: lost, messageUuid: 'lost-2', message: 2, writeToDB: true });
        expect((await expectError(send, 503, 'OWNER_UNAVAILABLE')).error).toContain('node-3');
        expect(await readStored(node, kept)).toEqual(['kept-1']);
        const tail = await node.receive({ streamId: lost, readFromDB: true, timeoutSeconds: 0 });
        expect(tail.status).toBe(503);
        const events = await fetch(`${node.url}/api/v1/streams/events?streamId=${encodeURIComponent(lost)}`);
        expect((await expectError(events, 503, 'OWNER_UNAVAILABLE')).error).toContain('node-3');
      }
      await sendStored(cluster.node('node-2'), kept, 'kept-2');
      expect(await readStored(cluster.node('node-1'), kept)).toEqual(['kept-1', 'kept-2']);
    });
  },
);

describe.runIf(postgresUrl !== null)('stored streams when an owner crashes: shared PostgreSQL', CLUSTER_TEST, () => {
  let database: ScratchDatabase;
  let cluster: TestCluster;

  beforeAll(async () => {
    database = await createScratchDatabase('postgres', postgresUrl!);
    const env = { IPUBSUB_STORE_TYPE: 'postgres', IPUBSUB_STORE_URL: database.url };
    // One node creates the schema first (TypeORM's migrations table is created outside the schema lock).
    cluster = await TestCluster.start(3, env, 1);
    await Promise.all([cluster.startNode('node-2'), cluster.startNode('node-3')]);
    await cluster.waitForRing(['node-1', 'node-2', 'node-3']);
  });
  afterAll(async () => {
    await cluster?.stop();
    await database?.drop();
  });

  it('an owner SIGKILLed under load and restarted: every acknowledged message is readable once, in order, through any member and from any token', async () => {
    // The shared database: the interim owner serves the stream while its owner is down.
    await ownerKilledUnderLoad(cluster, 'postgres', '200');
  });

  it('an owner that leaves (SIGTERM) and rejoins: every stored message reads back through every member', async () => {
    await leaveAndRejoin(cluster);
  });

  it('an owner that never comes back: its streams go on at the live owner with everything stored before', async () => {
    const streamId = await cluster.streamOwnedBy('node-3', 'gone');
    await sendStored(cluster.node('node-1'), streamId, 'before');
    await cluster.kill('node-3', 'SIGKILL');
    await cluster.waitForRing(['node-1', 'node-2']);
    await sendStored(cluster.node('node-2'), streamId, 'after');
    for (const node of cluster.others()) expect(await readStored(node, streamId)).toEqual(['before', 'after']);
  });
});
