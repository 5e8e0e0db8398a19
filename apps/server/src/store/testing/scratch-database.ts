import { randomBytes } from 'node:crypto';
import { test } from 'vitest';
import pg from 'pg';
import mysql from 'mysql2/promise';

export type ServerStoreType = 'postgres' | 'mysql';

/** The environment variable naming the test server of each database, as `.ci/run` exports them. */
export const TEST_URL_VARIABLE: Record<ServerStoreType, string> = {
  postgres: 'IPUBSUB_TEST_POSTGRES_URL',
  mysql: 'IPUBSUB_TEST_MYSQL_URL',
};

/** A database of its own for one test run, so runs never see each other's rows; dropped afterwards. */
export interface ScratchDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/**
 * The test server's URL, or null when it is not configured. Locally that skips the tests that need it (the
 * caller names the variable); under CI a missing database is a failure, never a skip.
 */
export function testServerUrl(type: ServerStoreType): string | null {
  const url = process.env[TEST_URL_VARIABLE[type]];
  if (url !== undefined && url !== '') return url;
  const reason = `${type} tests need ${TEST_URL_VARIABLE[type]} (eval "$(scripts/databases.sh env)")`;
  if (process.env.CI) {
    test(`${type} database configured`, () => {
      throw new Error(`CI never skips: ${reason}`);
    });
  } else {
    process.stderr.write(`skipping ${type} tests: ${reason}\n`);
    test.skip(`${type}: skipped, ${reason}`, () => undefined);
  }
  return null;
}

/** Creates an empty database (`ipubsub_t_<random>`, inside the grants of scripts/databases.sh) on the server. */
export async function createScratchDatabase(type: ServerStoreType, serverUrl: string): Promise<ScratchDatabase> {
  const name = `ipubsub_t_${randomBytes(6).toString('hex')}`;
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  await administer(
    type,
    serverUrl,
    type === 'postgres' ? `CREATE DATABASE ${name}` : `CREATE DATABASE ${name} CHARACTER SET utf8mb4`,
  );
  return {
    url: url.toString(),
    drop: () =>
      administer(
        type,
        serverUrl,
        type === 'postgres' ? `DROP DATABASE IF EXISTS ${name} WITH (FORCE)` : `DROP DATABASE IF EXISTS ${name}`,
      ),
  };
}

async function administer(type: ServerStoreType, serverUrl: string, statement: string): Promise<void> {
  if (type === 'postgres') {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
    return;
  }
  const connection = await mysql.createConnection(serverUrl);
  try {
    await connection.query(statement);
  } finally {
    await connection.end();
  }
}
