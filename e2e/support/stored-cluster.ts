import { expect } from 'vitest';
import type { TestCluster } from './cluster.js';
import type { ServerProcess } from './server.js';

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
