import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createScratchDatabase, testServerUrl, type ScratchDatabase } from '../testing/scratch-database.js';
import { SqlMessageStore } from './sql-message-store.js';

/** store.poolSize bounds the connections a node opens to PostgreSQL, however many reads it has in flight. */
const serverUrl = testServerUrl('postgres');
if (serverUrl !== null) {
  let database: ScratchDatabase;
  beforeAll(async () => {
    database = await createScratchDatabase('postgres', serverUrl);
  });
  afterAll(() => database.drop());

  /** Connections of the scratch database's server sessions, other than the one asking. */
  async function connections(): Promise<number> {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>(
        'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      return Number(rows[0].n);
    } finally {
      await client.end();
    }
  }

  it.each([2, 6])('opens at most poolSize (%i) connections for 12 reads at once', async (poolSize) => {
    const store = await SqlMessageStore.open({ type: 'postgres', url: database.url, poolSize });
    try {
      await Promise.all(Array.from({ length: 12 }, (_, i) => store.readAfter(`pool-${i}`, null, 10, Date.now())));
      const open = await connections();
      expect(open).toBeLessThanOrEqual(poolSize);
      // Twelve reads issued together make the pool open all it may: the limit is what stopped it.
      expect(open).toBe(poolSize);
    } finally {
      await store.close();
    }
  });
}
