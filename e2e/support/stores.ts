import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createScratchDatabase,
  testServerUrl,
  type ServerStoreType,
} from '../../apps/server/src/store/testing/scratch-database.js';
import { scratchKeyspace, testCassandraUrl } from '../../apps/server/src/store/cassandra/scratch-keyspace.js';
import { scratchMongoDatabase, testMongoUrl } from '../../apps/server/src/store/mongodb/scratch-database.js';

/** A message store for one test file: the IPUBSUB_STORE_* variables that point a node at it. */
export interface StoreUnderTest {
  readonly env: Record<string, string>;
  /** Makes the store unreachable for a node using it (drops the database); null where that cannot be done. */
  readonly lose: (() => Promise<void>) | null;
  dispose(): Promise<void>;
}

export interface StoreBackend {
  readonly type: 'sqlite' | ServerStoreType | 'cassandra' | 'mongodb';
  create(): Promise<StoreUnderTest>;
}

const sqlite: StoreBackend = {
  type: 'sqlite',
  async create() {
    const directory = mkdtempSync(join(tmpdir(), 'ipubsub-e2e-store-'));
    return {
      env: { IPUBSUB_STORE_TYPE: 'sqlite', IPUBSUB_STORE_PATH: directory },
      lose: null,
      dispose: async () => rmSync(directory, { recursive: true, force: true }),
    };
  },
};

function server(type: ServerStoreType, serverUrl: string): StoreBackend {
  return {
    type,
    async create() {
      const database = await createScratchDatabase(type, serverUrl);
      return {
        env: { IPUBSUB_STORE_TYPE: type, IPUBSUB_STORE_URL: database.url },
        lose: () => database.drop(),
        dispose: () => database.drop(),
      };
    },
  };
}

function cassandra(serverUrl: string): StoreBackend {
  return {
    type: 'cassandra',
    async create() {
      const keyspace = scratchKeyspace(serverUrl);
      return {
        env: { IPUBSUB_STORE_TYPE: 'cassandra', IPUBSUB_STORE_URL: keyspace.url },
        lose: () => keyspace.drop(),
        dispose: () => keyspace.drop(),
      };
    },
  };
}

function mongodb(serverUrl: string): StoreBackend {
  return {
    type: 'mongodb',
    async create() {
      const database = scratchMongoDatabase(serverUrl);
      return {
        env: { IPUBSUB_STORE_TYPE: 'mongodb', IPUBSUB_STORE_URL: database.url },
        // A dropped database comes back on the next write. A server that stops answering is
        // store-mongodb-partition.test.ts (a frozen proxy, with a short reply bound).
        lose: null,
        dispose: () => database.drop(),
      };
    },
  };
}

/**
 * SQLite always, PostgreSQL, MariaDB, Cassandra and MongoDB when their test URLs are set (skipped with a message locally, a
 * failing test under CI). Call at the top level of a test file.
 */
export function storeBackends(
  types: readonly StoreBackend['type'][] = ['sqlite', 'postgres', 'mysql', 'cassandra', 'mongodb'],
): StoreBackend[] {
  const backends: StoreBackend[] = [];
  for (const type of types) {
    if (type === 'sqlite') {
      backends.push(sqlite);
      continue;
    }
    if (type === 'cassandra') {
      const url = testCassandraUrl();
      if (url !== null) backends.push(cassandra(url));
      continue;
    }
    if (type === 'mongodb') {
      const url = testMongoUrl();
      if (url !== null) backends.push(mongodb(url));
      continue;
    }
    const url = testServerUrl(type);
    if (url !== null) backends.push(server(type, url));
  }
  return backends;
}
