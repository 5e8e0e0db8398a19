import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { test } from 'vitest';

export const TEST_URL_VARIABLE = 'IPUBSUB_TEST_MONGODB_URL';

/**
 * The test MongoDB-wire server's URL, or null when it is not configured. Locally that skips the tests that need
 * it; under CI a missing server is a failure, never a skip.
 */
export function testMongoUrl(): string | null {
  const url = process.env[TEST_URL_VARIABLE];
  if (url !== undefined && url !== '') return url;
  const reason = `mongodb tests need ${TEST_URL_VARIABLE} (scripts/mongodb.sh start; eval "$(scripts/mongodb.sh env)")`;
  if (process.env.CI) {
    test('mongodb configured', () => {
      throw new Error(`CI never skips: ${reason}`);
    });
  } else {
    process.stderr.write(`skipping mongodb tests: ${reason}\n`);
    test.skip(`mongodb: skipped, ${reason}`, () => undefined);
  }
  return null;
}

/** A database of its own for one test run, so runs never see each other's documents; dropped afterwards. */
export interface ScratchMongoDatabase {
  /** The test URL with the scratch database in its path. */
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/** Names a database `ipubsub_t_<random>` on the test server; the store creates it on first write. */
export function scratchMongoDatabase(serverUrl: string): ScratchMongoDatabase {
  const name = `ipubsub_t_${randomBytes(6).toString('hex')}`;
  return {
    url: serverUrl.replace(/^(mongodb(?:\+srv)?:\/\/[^/?]*)(?:\/[^?]*)?/, `$1/${name}`),
    name,
    drop: () => withMongoClient(serverUrl, (client) => client.db(name).dropDatabase()).then(() => undefined),
  };
}

/** Runs `work` with a plain driver client on the test server (for checks the store's port does not offer). */
export async function withMongoClient<T>(serverUrl: string, work: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = new MongoClient(serverUrl, { serverSelectionTimeoutMS: 5_000 });
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}
