import { afterAll, beforeAll, expect } from 'vitest';
import { waitForGauge } from './api-helpers.js';
import { TestCluster } from './cluster.js';
import type { ServerProcess } from './server.js';

/** A database, keyspace or schema of its own for one test file (the scratch helpers beside each store). */
interface ScratchStore {
  readonly url: string;
  drop(): Promise<void>;
}

/**
 * Three nodes sharing one store of `type`, in a scratch store `open` makes: started (at once, so each creates
 * the tables or indexes it needs) before the describe block's tests, stopped and the store dropped after them.
 * Returns the cluster, for the tests to use once it has started.
 */
export function useStoredCluster(type: string, open: () => ScratchStore | Promise<ScratchStore>): () => TestCluster {
  let store: ScratchStore | undefined;
  let cluster: TestCluster | undefined;
  beforeAll(async () => {
    store = await open();
    cluster = await TestCluster.start(3, { IPUBSUB_STORE_TYPE: type, IPUBSUB_STORE_URL: store.url });
  });
  afterAll(async () => {
    await cluster?.stop();
    await store?.drop();
  });
  return () => cluster!;
}

export interface StoredBatch {
  messages: Array<{ messageUuid: string; message: unknown }>;
  dbResumeToken?: string;
  gap?: { reason: string };
}

/** Everything stored after `token` (or from the start), read through `node` in one batch. */
export async function readThrough(node: ServerProcess, streamId: string, token?: string): Promise<StoredBatch> {
  const res = await node.receive({
    streamId,
    readFromDB: true,
    timeoutSeconds: 0,
    maxMessages: 1000,
    ...(token === undefined ? {} : { dbResumeToken: token }),
  });
  if (res.status === 424) return { messages: [] };
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as StoredBatch;
}

/** A stored send through `node`, expected to succeed. */
export async function storeThrough(
  node: ServerProcess,
  streamId: string,
  messageUuid: string,
  message: unknown,
): Promise<{ duplicate?: boolean }> {
  const res = await node.send({ streamId, messageUuid, message, writeToDB: true });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as { duplicate?: boolean };
}

/**
 * On a three-node cluster sharing one store: a stream's owner is killed; the new owner takes new messages after
 * the old ones, a token from before the crash resumes without a gap, and a retried send is still a duplicate.
 */
export async function expectOwnerChangeContinuesStream(cluster: TestCluster, label: string): Promise<void> {
  const streamId = await cluster.streamOwnedBy('node-2', `${label}-owner`);
  for (let i = 0; i < 10; i++)
    await storeThrough(cluster.node(i % 2 === 0 ? 'node-1' : 'node-3'), streamId, `c-${i}`, i);
  const before = await readThrough(cluster.node('node-3'), streamId);
  expect(before.messages.map((m) => m.message)).toEqual(Array.from({ length: 10 }, (_, i) => i));

  await cluster.kill('node-2', 'SIGKILL');
  await cluster.waitForRing(['node-1', 'node-3']);
  for (const node of ['node-1', 'node-3'])
    expect((await readThrough(cluster.node(node), streamId)).messages.map((m) => m.message)).toEqual(
      Array.from({ length: 10 }, (_, i) => i),
    );
  expect((await storeThrough(cluster.node('node-3'), streamId, 'c-4', 'retried after the crash')).duplicate).toBe(true);
  await storeThrough(cluster.node('node-1'), streamId, 'c-10', 10);

  const after = await readThrough(cluster.node('node-1'), streamId, before.dbResumeToken);
  expect(after.messages.map((m) => m.message)).toEqual([10]);
  // The new owner read the stream's last sequence from the store: nothing between the two reads is missing.
  expect(after.gap).toBeUndefined();
}

/** A stored long poll through one non-owner is woken by a stored send through the other. */
export async function expectStoredPollWokenThroughNonOwners(cluster: TestCluster, label: string): Promise<void> {
  const streamId = await cluster.streamOwnedBy('node-1', `${label}-wake`);
  const polling = cluster.node('node-2').receive({ streamId, readFromDB: true, timeoutSeconds: 20 });
  await waitForGauge(cluster.node('node-1'), 'ipubsub_store_waiting_readers', 1);
  await storeThrough(cluster.node('node-3'), streamId, 'w-1', 'woken');
  const res = await polling;
  expect(res.status).toBe(200);
  expect(((await res.json()) as { message: unknown }).message).toBe('woken');
}
