import { describe, expect, it } from 'vitest';
import { scratchMongoDatabase, testMongoUrl } from '../apps/server/src/store/mongodb/scratch-database.js';
import { ServerProcess } from './support/server.js';
import {
  expectOwnerChangeContinuesStream,
  expectStoredPollWokenThroughNonOwners,
  useStoredCluster,
} from './support/stored-cluster.js';

// The stored-mode behaviours of docs/contract.md §2–3 run on MongoDB in store.test.ts (through storeBackends); this file
// holds what is particular to it: its store.url, and a cluster of nodes sharing one database.

describe('store.type mongodb at start', () => {
  it('stops the node on a store.url the driver cannot parse, naming what is wrong', async () => {
    const start = ServerProcess.start({
      env: { IPUBSUB_STORE_TYPE: 'mongodb', IPUBSUB_STORE_URL: 'mongodb://127.0.0.1:27017/db?notAnOption=1' },
    });
    await expect(start).rejects.toThrow(/server exited \(1\)[\s\S]*cannot open the mongodb message store at/);
  });

  it('stops the node when the server cannot be reached, without printing the password', async () => {
    const start = ServerProcess.start({
      env: {
        IPUBSUB_STORE_TYPE: 'mongodb',
        IPUBSUB_STORE_URL: 'mongodb://ipubsub:hidden-password@127.0.0.1:1/ipubsub?serverSelectionTimeoutMS=500',
      },
    });
    await expect(start).rejects.toThrow(
      /cannot open the mongodb message store at mongodb:\/\/ipubsub:\*\*\*@127\.0\.0\.1:1\/ipubsub\?serverSelectionTimeoutMS=500: .*ECONNREFUSED/,
    );
    await expect(start).rejects.not.toThrow(/hidden-password/);
  });
});

const serverUrl = testMongoUrl();

describe.runIf(serverUrl !== null)('a cluster of three sharing one MongoDB database', () => {
  const cluster = useStoredCluster('mongodb', () => scratchMongoDatabase(serverUrl!));

  it('a stored long poll through one non-owner is woken by a stored send through the other', () =>
    expectStoredPollWokenThroughNonOwners(cluster(), 'mongodb'));

  // Last: it kills one of the three nodes.
  it('a new owner continues the stream where the killed one stopped: old tokens resume without a gap, retries stay duplicates', () =>
    expectOwnerChangeContinuesStream(cluster(), 'mongodb'));
});
