import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  scratchKeyspace,
  testCassandraUrl,
  type ScratchKeyspace,
} from '../apps/server/src/store/cassandra/scratch-keyspace.js';
import { TestCluster } from './support/cluster.js';
import { ServerProcess } from './support/server.js';

// The stored-mode behaviours of SPEC §2–3 run on Cassandra in store.test.ts (through storeBackends); this file
// holds what is particular to Cassandra: its store.url, and a cluster of nodes sharing one keyspace.

interface Batch {
  messages: Array<{ messageUuid: string; message: unknown }>;
  dbResumeToken?: string;
  gap?: { reason: string };
}

describe('store.type cassandra at start', () => {
  it('stops the node on a store.url it cannot use, naming what is wrong', async () => {
    const start = ServerProcess.start({
      env: {
        IPUBSUB_STORE_TYPE: 'cassandra',
        IPUBSUB_STORE_URL: 'cassandra://127.0.0.1:9042/ipubsub?consistency=QUORUM',
      },
    });
    await expect(start).rejects.toThrow(/server exited \(1\)[\s\S]*store\.url needs \?dc=<local data centre>/);
  });

  it('stops the node when Cassandra cannot be reached, without printing the password', async () => {
    const start = ServerProcess.start({
      env: {
        IPUBSUB_STORE_TYPE: 'cassandra',
        IPUBSUB_STORE_URL: 'cassandra://ipubsub:hidden-password@127.0.0.1:1/ipubsub?dc=datacenter1',
      },
    });
    await expect(start).rejects.toThrow(
      /cannot open the cassandra message store at cassandra:\/\/ipubsub:\*\*\*@127\.0\.0\.1:1\/ipubsub\?dc=datacenter1: .*ECONNREFUSED/,
    );
    await expect(start).rejects.not.toThrow(/hidden-password/);
  });
});

const serverUrl = testCassandraUrl();

describe.runIf(serverUrl !== null)('a cluster sharing one Cassandra keyspace', () => {
  let keyspace: ScratchKeyspace;
  let cluster: TestCluster;

  /** Everything stored after `token` (or from the start), read through `node` in one batch. */
  const readThrough = async (node: ServerProcess, streamId: string, token?: string): Promise<Batch> => {
    const res = await node.receive({
      streamId,
      readFromDB: true,
      timeoutSeconds: 0,
      maxMessages: 1000,
      ...(token === undefined ? {} : { dbResumeToken: token }),
    });
    if (res.status === 424) return { messages: [] };
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as Batch;
  };
  const store = async (
    node: ServerProcess,
    streamId: string,
    messageUuid: string,
    message: unknown,
  ): Promise<{ duplicate?: boolean }> => {
    const res = await node.send({ streamId, messageUuid, message, writeToDB: true });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as { duplicate?: boolean };
  };

  beforeAll(async () => {
    keyspace = scratchKeyspace(serverUrl!);
    // The three nodes start at once: each finds the keyspace missing and creates it, and the tables.
    cluster = await TestCluster.start(3, { IPUBSUB_STORE_TYPE: 'cassandra', IPUBSUB_STORE_URL: keyspace.url });
  });
  afterAll(async () => {
    await cluster?.stop();
    await keyspace?.drop();
  });

  it('a new owner continues the stream where the killed one stopped: old tokens resume without a gap, retries stay duplicates', async () => {
    const streamId = await cluster.streamOwnedBy('node-2', 'cassandra-owner');
    for (let i = 0; i < 10; i++) await store(cluster.node(i % 2 === 0 ? 'node-1' : 'node-3'), streamId, `c-${i}`, i);
    const before = await readThrough(cluster.node('node-3'), streamId);
    expect(before.messages.map((m) => m.message)).toEqual(Array.from({ length: 10 }, (_, i) => i));

    await cluster.kill('node-2', 'SIGKILL');
    await cluster.waitForRing(['node-1', 'node-3']);
    expect((await store(cluster.node('node-3'), streamId, 'c-4', 'retried after the crash')).duplicate).toBe(true);
    await store(cluster.node('node-1'), streamId, 'c-10', 10);

    const after = await readThrough(cluster.node('node-1'), streamId, before.dbResumeToken);
    expect(after.messages.map((m) => m.message)).toEqual([10]);
    // The new owner read the stream's last sequence from Cassandra: nothing between the two reads is missing.
    expect(after.gap).toBeUndefined();
  });
});
