import { describe, expect, it } from 'vitest';
import { scratchKeyspace, testCassandraUrl } from '../apps/server/src/store/cassandra/scratch-keyspace.js';
import { ServerProcess } from './support/server.js';
import { expectOwnerChangeContinuesStream, useStoredCluster } from './support/stored-cluster.js';

// The stored-mode behaviours of docs/contract.md §2–3 run on Cassandra in store.test.ts (through storeBackends); this file
// holds what is particular to Cassandra: its store.url, and a cluster of nodes sharing one keyspace.

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
  // The three nodes start at once: each finds the keyspace missing and creates it, and the tables.
  const cluster = useStoredCluster('cassandra', () => scratchKeyspace(serverUrl!));

  it('a new owner continues the stream where the killed one stopped: old tokens resume without a gap, retries stay duplicates', () =>
    expectOwnerChangeContinuesStream(cluster(), 'cassandra'));
});
