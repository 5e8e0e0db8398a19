import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createScratchDatabase,
  testServerUrl,
  type ScratchDatabase,
} from '../apps/server/src/store/testing/scratch-database.js';
import { waitForGauge } from './support/api-helpers.js';
import { TestCluster } from './support/cluster.js';
import type { ServerProcess } from './support/server.js';

const serverUrl = testServerUrl('postgres');

interface StoredMessage {
  messageUuid: string;
  message: unknown;
  dbResumeToken: string;
}

/** Reads stored messages through `node` from `token` (or the start) until a read times out. */
async function readAll(node: ServerProcess, streamId: string, token?: string): Promise<StoredMessage[]> {
  const read: StoredMessage[] = [];
  for (;;) {
    const query: Record<string, string | number | boolean> = { streamId, readFromDB: true, timeoutSeconds: 0 };
    if (token !== undefined) query.dbResumeToken = token;
    const res = await node.receive(query);
    if (res.status === 424) return read;
    expect(res.status, await res.clone().text()).toBe(200);
    const message = (await res.json()) as StoredMessage;
    read.push(message);
    token = message.dbResumeToken;
  }
}

async function sendStored(node: ServerProcess, streamId: string, messageUuid: string, message: unknown): Promise<void> {
  const res = await node.send({ streamId, messageUuid, message, writeToDB: true });
  expect(res.status, await res.clone().text()).toBe(200);
}

describe.runIf(serverUrl !== null)('stored streams in a cluster sharing PostgreSQL', () => {
  let database: ScratchDatabase;
  let cluster: TestCluster;

  beforeAll(async () => {
    database = await createScratchDatabase('postgres', serverUrl!);
    cluster = await TestCluster.start(3, { IPUBSUB_STORE_TYPE: 'postgres', IPUBSUB_STORE_URL: database.url });
  });
  afterAll(async () => {
    await cluster?.stop();
    await database?.drop();
  });

  it('a stored long poll through one non-owner is woken by a stored send through the other', async () => {
    const streamId = await cluster.streamOwnedBy('node-1', 'stored-wake');
    const polling = cluster.node('node-2').receive({ streamId, readFromDB: true, timeoutSeconds: 20 });
    await waitForGauge(cluster.node('node-1'), 'ipubsub_store_waiting_readers', 1);
    await sendStored(cluster.node('node-3'), streamId, 'w-1', 'woken');
    const res = await polling;
    expect(res.status).toBe(200);
    expect(((await res.json()) as StoredMessage).message).toBe('woken');
  });

  it('stored messages stay readable through any node after their owner crashes', async () => {
    const streamId = await cluster.streamOwnedBy('node-2', 'stored-crash');
    for (let i = 0; i < 10; i++)
      await sendStored(cluster.node(i % 2 === 0 ? 'node-1' : 'node-3'), streamId, `s-${i}`, i);
    const before = await readAll(cluster.node('node-3'), streamId);
    expect(before.map((m) => m.message)).toEqual(Array.from({ length: 10 }, (_, i) => i));

    await cluster.kill('node-2', 'SIGKILL');
    await cluster.waitForRing(['node-1', 'node-3']);
    for (const node of ['node-1', 'node-3']) {
      expect((await readAll(cluster.node(node), streamId)).map((m) => m.message)).toEqual(
        Array.from({ length: 10 }, (_, i) => i),
      );
    }
    // The new owner takes new stored messages, and a reader resumes with a token from before the crash.
    await sendStored(cluster.node('node-1'), streamId, 's-10', 10);
    expect((await readAll(cluster.node('node-3'), streamId, before[9].dbResumeToken)).map((m) => m.message)).toEqual([
      10,
    ]);
  });
});
