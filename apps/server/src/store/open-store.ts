import { resolve } from 'node:path';
import type { AppConfig } from '../config/index.js';
import { StoreUnavailableError, type MessageStore } from './message-store.js';
import { SqlMessageStore } from './sql/sql-message-store.js';

/** Where the embedded store keeps its file when store.path is not set: ./data/<node.name>. */
export function sqliteDirectory(config: AppConfig): string {
  return resolve(config.store.path ?? `data/${config.node.name}`);
}

/**
 * Opens the configured store, creating or upgrading its schema. Rejects with StoreUnavailableError naming what
 * could not be reached, which stops the node: better not to start than to take sends it cannot keep.
 */
export async function openMessageStore(config: AppConfig): Promise<MessageStore> {
  const { type, url, poolSize } = config.store;
  switch (type) {
    case 'sqlite':
      return SqlMessageStore.open({ type, directory: sqliteDirectory(config) });
    case 'postgres':
    case 'mysql':
      if (url === undefined) throw new StoreUnavailableError(`store.type ${type} needs store.url (IPUBSUB_STORE_URL)`);
      return SqlMessageStore.open({ type, url, poolSize });
    case 'cassandra':
      if (url === undefined)
        throw new StoreUnavailableError('store.type cassandra needs store.url (IPUBSUB_STORE_URL)');
      // Loaded only here: cassandra-driver costs every other node memory for nothing.
      return (await import('./cassandra/cassandra-message-store.js')).CassandraMessageStore.open(url);
    case 'mongodb':
      if (url === undefined) throw new StoreUnavailableError('store.type mongodb needs store.url (IPUBSUB_STORE_URL)');
      // Loaded only here, as cassandra-driver is.
      return (await import('./mongodb/mongodb-message-store.js')).MongoMessageStore.open(url);
  }
}
