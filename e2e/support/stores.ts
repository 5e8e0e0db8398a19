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
import { TcpProxy } from './tcp-proxy.js';

/** A message store for one test file: the IPUBSUB_STORE_* variables that point a node at it. */
export interface StoreUnderTest {
  readonly env: Record<string, string>;
  /** Makes the store unreachable for a node using it (drops the database, or cuts its connection); null for SQLite. */
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
        lose: database.drop,
        dispose: database.drop,
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
        lose: keyspace.drop,
        dispose: keyspace.drop,
      };
    },
  };
}

function mongodb(serverUrl: string): StoreBackend {
  return {
    type: 'mongodb',
    async create() {
      const database = scratchMongoDatabase(serverUrl);
      // A dropped database comes back on the next write: the node reaches the server through a proxy instead, and
      // losing the store closes it. directConnection: the server must not tell the driver its real address.
      const { hostname, port } = new URL(serverUrl.replace(/^mongodb:/, 'http:'));
      const proxy = await TcpProxy.start(hostname, Number(port || 27017));
      const url = new URL(database.url.replace(/^mongodb:/, 'http:'));
      url.port = String(proxy.port);
      url.searchParams.set('directConnection', 'true');
      // A request caught on a connection the proxy cut may see neither answer nor close: the socket timeout ends it.
      url.searchParams.set('serverSelectionTimeoutMS', '2000');
      url.searchParams.set('socketTimeoutMS', '10000');
      return {
        env: { IPUBSUB_STORE_TYPE: 'mongodb', IPUBSUB_STORE_URL: url.toString().replace(/^http:/, 'mongodb:') },
        lose: () => proxy.close(),
        dispose: async () => {
          await proxy.close();
          await database.drop();
        },
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
