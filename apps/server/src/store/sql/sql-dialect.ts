import {
  MYSQL_APPEND,
  POSTGRES_APPEND,
  SQLITE_APPEND,
  type AtomicAppend,
  type SteppedAppend,
} from './append-statements.js';
import { MYSQL_PURGE, POSTGRES_PURGE, SQLITE_PURGE, type PurgeStatements } from './purge-statements.js';
import { HIGH_WATER_TABLE, MESSAGES_TABLE } from './table.js';

/**
 * What differs between the SQL databases the store runs on. Everything else (the statements' shape, the
 * batching, positions) is shared by SqlMessageStore.
 *
 * Columns: `seq` is the per-stream sequence the owner assigns (contiguous, so a hole means something was
 * removed); `message_uuid` holds the id JSON-escaped (no NUL or lone surrogate reaches the database, and the
 * comparison is exact); times are epoch milliseconds.
 */
export interface SqlDialect {
  readonly name: 'sqlite' | 'postgres' | 'mysql';
  /** Placeholder of the parameter at this 0-based index. */
  param: (index: number) => string;
  /** How a batch is appended: by one atomic set of statements, or read-number-insert steps. */
  readonly append: AtomicAppend | SteppedAppend;
  /** Idempotent DDL of the first schema version, so two nodes migrating at once both succeed. */
  readonly createSchema: readonly string[];
  readonly dropSchema: readonly string[];
  /** Idempotent DDL of the second: the high-water marks of purged streams. */
  readonly createHighWater: readonly string[];
  readonly dropHighWater: readonly string[];
  /** How expired rows are deleted, keeping a mark of a stream's newest purged row. */
  readonly purge: PurgeStatements;
  isUniqueViolation(err: unknown): boolean;
}

const questionMark = (): string => '?';

/** The dedup and expiry indexes, in the syntax SQLite and PostgreSQL share. */
const INDEXES = [
  `CREATE UNIQUE INDEX IF NOT EXISTS ${MESSAGES_TABLE}_uuid ON ${MESSAGES_TABLE} (stream_id, message_uuid)`,
  `CREATE INDEX IF NOT EXISTS ${MESSAGES_TABLE}_expiry ON ${MESSAGES_TABLE} (expires_at)`,
];
const DROP_SCHEMA = [`DROP TABLE IF EXISTS ${MESSAGES_TABLE}`];
/** Marks are found below a clock-derived sequence when they are forgotten. */
const HIGH_WATER_INDEX = `CREATE INDEX IF NOT EXISTS ${HIGH_WATER_TABLE}_seq ON ${HIGH_WATER_TABLE} (last_seq)`;
const DROP_HIGH_WATER = [`DROP TABLE IF EXISTS ${HIGH_WATER_TABLE}`];
/** Two PostgreSQL nodes may start against an empty database at once; the lock makes the second wait for the first. */
const POSTGRES_MIGRATION_LOCK = `SELECT pg_advisory_xact_lock(4242001)`;

/** Column types of the tables SQLite and PostgreSQL share the shape of (MariaDB's need collations and keys inline). */
interface ColumnTypes {
  readonly streamId: string;
  readonly uuid: string;
  readonly integer: string;
}
const SQLITE_COLUMNS: ColumnTypes = { streamId: 'TEXT', uuid: 'TEXT', integer: 'INTEGER' };
const POSTGRES_COLUMNS: ColumnTypes = { streamId: 'VARCHAR(256)', uuid: 'VARCHAR(800)', integer: 'BIGINT' };

const messagesTable = (types: ColumnTypes): string => `CREATE TABLE IF NOT EXISTS ${MESSAGES_TABLE} (
      stream_id ${types.streamId} NOT NULL,
      seq ${types.integer} NOT NULL,
      message_uuid ${types.uuid} NOT NULL,
      created_at ${types.integer} NOT NULL,
      expires_at ${types.integer} NOT NULL,
      payload TEXT NOT NULL,
      PRIMARY KEY (stream_id, seq)
    )`;

const highWaterTable = (types: ColumnTypes): string =>
  `CREATE TABLE IF NOT EXISTS ${HIGH_WATER_TABLE} (stream_id ${types.streamId} NOT NULL PRIMARY KEY, last_seq ${types.integer} NOT NULL)`;

/** The driver's error behind TypeORM's QueryFailedError. */
function driverError(err: unknown): { code?: unknown; errno?: unknown } {
  const wrapped = err as { driverError?: { code?: unknown; errno?: unknown } };
  return wrapped?.driverError ?? (err as { code?: unknown; errno?: unknown }) ?? {};
}

export const SQLITE: SqlDialect = {
  name: 'sqlite',
  param: questionMark,
  append: SQLITE_APPEND,
  createSchema: [messagesTable(SQLITE_COLUMNS), ...INDEXES],
  dropSchema: DROP_SCHEMA,
  createHighWater: [highWaterTable(SQLITE_COLUMNS), HIGH_WATER_INDEX],
  dropHighWater: DROP_HIGH_WATER,
  purge: SQLITE_PURGE,
  isUniqueViolation: (err) => String(driverError(err).code).startsWith('SQLITE_CONSTRAINT'),
};

export const POSTGRES: SqlDialect = {
  name: 'postgres',
  param: (index) => `$${index + 1}`,
  append: POSTGRES_APPEND,
  createSchema: [POSTGRES_MIGRATION_LOCK, messagesTable(POSTGRES_COLUMNS), ...INDEXES],
  dropSchema: DROP_SCHEMA,
  createHighWater: [POSTGRES_MIGRATION_LOCK, highWaterTable(POSTGRES_COLUMNS), HIGH_WATER_INDEX],
  dropHighWater: DROP_HIGH_WATER,
  purge: POSTGRES_PURGE,
  isUniqueViolation: (err) => driverError(err).code === '23505',
};

export const MYSQL: SqlDialect = {
  name: 'mysql',
  param: questionMark,
  append: MYSQL_APPEND,
  createSchema: [
    // Binary comparison throughout: stream ids are case-sensitive and ids must match byte for byte (the
    // default collations fold case and ignore trailing spaces).
    `CREATE TABLE IF NOT EXISTS ${MESSAGES_TABLE} (
      stream_id VARCHAR(256) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      seq BIGINT NOT NULL,
      message_uuid VARBINARY(800) NOT NULL,
      created_at BIGINT NOT NULL,
      expires_at BIGINT NOT NULL,
      payload LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      PRIMARY KEY (stream_id, seq),
      UNIQUE KEY ${MESSAGES_TABLE}_uuid (stream_id, message_uuid),
      KEY ${MESSAGES_TABLE}_expiry (expires_at)
    ) ENGINE=InnoDB`,
  ],
  dropSchema: DROP_SCHEMA,
  createHighWater: [
    `CREATE TABLE IF NOT EXISTS ${HIGH_WATER_TABLE} (
      stream_id VARCHAR(256) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
      last_seq BIGINT NOT NULL,
      KEY ${HIGH_WATER_TABLE}_seq (last_seq)
    ) ENGINE=InnoDB`,
  ],
  dropHighWater: DROP_HIGH_WATER,
  purge: MYSQL_PURGE,
  isUniqueViolation: (err) => driverError(err).code === 'ER_DUP_ENTRY',
};

/** The dialect of a TypeORM driver type. */
export function dialectOf(driverType: string): SqlDialect {
  switch (driverType) {
    case 'better-sqlite3':
      return SQLITE;
    case 'postgres':
      return POSTGRES;
    case 'mysql':
    case 'mariadb':
      return MYSQL;
    default:
      throw new Error(`no SQL dialect for TypeORM driver ${driverType}`);
  }
}
