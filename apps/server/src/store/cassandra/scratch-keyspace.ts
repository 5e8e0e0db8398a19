import { randomBytes } from 'node:crypto';
import { Client } from 'cassandra-driver';
import { test } from 'vitest';
import { parseCassandraUrl } from './cassandra-settings.js';

export const TEST_URL_VARIABLE = 'IPUBSUB_TEST_CASSANDRA_URL';

/**
 * The test Cassandra's URL, or null when it is not configured. Locally that skips the tests that need it; under
 * CI a missing Cassandra is a failure, never a skip.
 */
export function testCassandraUrl(): string | null {
  const url = process.env[TEST_URL_VARIABLE];
  if (url !== undefined && url !== '') return url;
  const reason = `cassandra tests need ${TEST_URL_VARIABLE} (scripts/cassandra.sh start; cassandra://127.0.0.1:9042/ipubsub_test?dc=datacenter1)`;
  if (process.env.CI) {
    test('cassandra configured', () => {
      throw new Error(`CI never skips: ${reason}`);
    });
  } else {
    process.stderr.write(`skipping cassandra tests: ${reason}\n`);
    test.skip(`cassandra: skipped, ${reason}`, () => undefined);
  }
  return null;
}

/** A keyspace of its own for one test run, so runs never see each other's rows; dropped afterwards. */
export interface ScratchKeyspace {
  /** The test URL with the scratch keyspace in its path (and `extraParams` appended). */
  readonly url: string;
  drop(): Promise<void>;
}

/** Names a keyspace `ipubsub_t_<random>` on the test server; the store creates it on open. */
export function scratchKeyspace(serverUrl: string, extraParams = ''): ScratchKeyspace {
  const name = `ipubsub_t_${randomBytes(6).toString('hex')}`;
  const url = serverUrl.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  return {
    url: extraParams === '' ? url : `${url}${url.includes('?') ? '&' : '?'}${extraParams}`,
    drop: async () => {
      await withClient(serverUrl, (client) => client.execute(`DROP KEYSPACE IF EXISTS ${name}`));
    },
  };
}

/** Runs `work` with a plain driver session on the test server (for checks the store's port does not offer). */
export async function withClient<T>(serverUrl: string, work: (client: Client) => Promise<T>): Promise<T> {
  const settings = parseCassandraUrl(serverUrl);
  const client = new Client({
    contactPoints: [...settings.contactPoints],
    localDataCenter: settings.localDataCenter,
    encoding: { useBigIntAsLong: true },
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.shutdown();
  }
}
