import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  InvalidPositionError,
  StoreUnavailableError,
  type AppendResult,
  type MessageCopies,
  type MessageStore,
  type NewMessage,
  type ReadResult,
  type StoredMessage,
  type StorePosition,
} from '../message-store.js';
import type { AtomicAppend, MessageColumns, SteppedAppend } from './append-statements.js';
import { decodeUuid, encodeUuid } from '../message-uuid-key.js';
import { MIGRATIONS } from './migrations.js';
import { MYSQL, POSTGRES, SQLITE, type SqlDialect } from './sql-dialect.js';
import { HIGH_WATER_TABLE, MESSAGES_TABLE } from './table.js';
import {
  MYSQL_QUERY,
  POSTGRES_QUERY,
  SqliteWorkerWriter,
  TypeOrmWriter,
  type Row,
  type SqlWriter,
} from './sql-writers.js';
import { SqliteCopies } from './sqlite-copies.js';
import { SqliteWriter } from './sqlite-writer.js';

export interface SqlStoreOptions {
  readonly type: 'sqlite' | 'postgres' | 'mysql';
  /** Connection URL (postgres, mysql). */
  readonly url?: string;
  /** Directory of the database file (sqlite). */
  readonly directory?: string;
  /** Connections to the database server (postgres, mysql); the driver's default (10) when not given. */
  readonly poolSize?: number;
}

export const SQLITE_FILE = 'messages.sqlite3';

/**
 * A new stream, or one whose rows and high-water mark are all gone, starts its sequence from the clock: the
 * current second × 1000 × this. A mark is forgotten only once this restart, computed an hour earlier, is above
 * it (MARK_RETENTION_MS), so the restart is above any position an old token points at (the reader sees the new
 * messages, with a gap) unless the node's clock is an hour behind the purging node's, or a stream averaged more
 * than a million messages a second. Whole seconds: two nodes starting the same stream at once (an ownership
 * change) pick the same first number, collide, and one retries after the other, rather than leaving a hole.
 */
const SEQUENCES_PER_MS = 1024;
/** How far behind the purging node's clock another node's may be when it restarts a forgotten stream. */
const MARK_RETENTION_MS = 3_600_000;
const TWO_POW_32 = 4_294_967_296;
/** Attempts of a batch that collided with another writer (a stream changing owner mid-batch). */
const APPEND_ATTEMPTS = 10;

/**
 * The message store on SQLite, PostgreSQL or MySQL/MariaDB through TypeORM: TypeORM opens the database, runs
 * the migrations and runs transactions; the statements are plain SQL so a batch is one multi-row insert.
 * SQLite writes go through a connection in a worker thread (see SqliteWriter); reads use TypeORM's.
 *
 * A position is the 8-byte per-stream sequence number. Sequences are contiguous within a stream, so a hole
 * between the reader's position and the next message returned is a message removed by TTL: a gap. A number is
 * never used twice in a stream, even after its newest messages were purged (see purgeExpired).
 */
export class SqlMessageStore implements MessageStore {
  /**
   * Appends of disjoint streams run side by side on a server's pool. SQLite has a single writer: a second batch
   * waits in its worker, so it starts as soon as the first commits.
   */
  readonly appendConcurrency: number;
  /** The embedded store's: each node has its own file, so stored messages move with their streams. */
  readonly copies?: MessageCopies;
  private closed = false;
  private readonly readSql: string;
  /** Whether a purge pass has anything to delete: expired rows, or marks old enough to forget. */
  private readonly purgePendingSql: string;
  private readonly healthSql = `SELECT seq FROM ${MESSAGES_TABLE} WHERE stream_id = '' AND seq = 0`;

  private constructor(
    private readonly dataSource: DataSource,
    private readonly dialect: SqlDialect,
    private readonly writer: SqlWriter,
  ) {
    this.appendConcurrency = dialect.name === 'sqlite' ? 2 : 4;
    if (dialect.name === 'sqlite') this.copies = new SqliteCopies(dataSource, writer);
    const p = dialect.param;
    this.readSql =
      `SELECT seq, message_uuid, created_at, payload FROM ${MESSAGES_TABLE}` +
      ` WHERE stream_id = ${p(0)} AND seq > ${p(1)} AND expires_at > ${p(2)} ORDER BY seq LIMIT ${p(3)}`;
    this.purgePendingSql =
      `SELECT CASE WHEN EXISTS (SELECT 1 FROM ${MESSAGES_TABLE} WHERE expires_at <= ${p(0)})` +
      ` OR EXISTS (SELECT 1 FROM ${HIGH_WATER_TABLE} WHERE last_seq < ${p(1)}) THEN 1 ELSE 0 END AS pending`;
  }

  /** Connects and migrates; rejects with StoreUnavailableError saying what could not be reached. */
  static async open(options: SqlStoreOptions): Promise<SqlMessageStore> {
    const dialect = { sqlite: SQLITE, postgres: POSTGRES, mysql: MYSQL }[options.type];
    const dataSource = new DataSource(dataSourceOptions(options));
    try {
      await dataSource.initialize();
      await migrateExclusively(dataSource, options.type);
    } catch (err) {
      if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
      throw new StoreUnavailableError(
        `cannot open the ${options.type} message store at ${describeLocation(options)}: ${(err as Error).message}`,
      );
    }
    const writer =
      options.type === 'sqlite'
        ? new SqliteWorkerWriter(new SqliteWriter(join(options.directory!, SQLITE_FILE)))
        : new TypeOrmWriter(dataSource, options.type === 'postgres' ? POSTGRES_QUERY : MYSQL_QUERY);
    return new SqlMessageStore(dataSource, dialect, writer);
  }

  async append(batch: readonly NewMessage[]): Promise<AppendResult[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const append = this.dialect.append;
        return typeof append === 'function'
          ? await this.appendAtomically(append, batch)
          : await this.appendInSteps(append, batch);
      } catch (err) {
        // Another writer stored into one of these streams between our reads and the insert: read again, after
        // a random pause so two writers do not collide in step.
        if (attempt >= APPEND_ATTEMPTS || !this.dialect.isUniqueViolation(err)) throw err;
        await sleep(Math.random() * attempt);
      }
    }
  }

  async readAfter(streamId: string, after: StorePosition | null, limit: number, now: number): Promise<ReadResult> {
    const afterSeq = after === null ? 0 : decodeSequence(after);
    const rows = await this.dataSource.query<Row[]>(this.readSql, [streamId, afterSeq, now, limit]);
    const messages = new Array<StoredMessage>(rows.length);
    let gap = false;
    let expected = after === null ? -1 : afterSeq + 1;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const seq = Number(row.seq);
      if (seq !== expected && expected !== -1) gap = true;
      expected = seq + 1;
      messages[i] = {
        messageUuid: decodeUuid(String(row.message_uuid)),
        messageJson: row.payload as string,
        timestamp: Number(row.created_at),
        position: encodeSequence(seq),
      };
    }
    return { messages, position: rows.length === 0 ? null : messages[rows.length - 1].position, gap };
  }

  /**
   * Deletes a batch of expired rows in one transaction, first raising the high-water mark of every stream whose
   * newest row goes, so its next message is numbered after the purged one: a reader holding the purged message's
   * position still gets it. At the end of a pass, forgets the marks the clock restart has overtaken.
   */
  async purgeExpired(now: number, batchSize: number): Promise<number> {
    const statements = this.dialect.purge;
    const below = freshStreamBase(now - MARK_RETENTION_MS);
    // Asked on a reading connection first, so that a pass with nothing to do writes nothing (and SQLite's writer
    // is not started by it).
    const [{ pending }] = await this.dataSource.query<[{ pending: unknown }]>(this.purgePendingSql, [now, below]);
    if (Number(pending) === 0) return 0;
    const purged = await this.writer.transaction(async (query) => {
      const [expired] = await query([statements.expired(now, batchSize)]);
      if (expired.length === 0) return 0;
      const streamIds = expired.map((row) => String(row.stream_id));
      const seqs = expired.map((row) => Number(row.seq));
      const marks = new Map<string, number>();
      for (let i = 0; i < expired.length; i++) {
        // The stream's greatest number so far: its newest row (this one, or a later one) or its mark.
        const last = Math.max(Number(expired[i].last_seq ?? -1), Number(expired[i].marked ?? -1));
        if (seqs[i] >= last) marks.set(streamIds[i], seqs[i]);
      }
      const raise = marks.size === 0 ? [] : [statements.raiseMarks([...marks.keys()], [...marks.values()])];
      await query([...raise, statements.deleteRows(streamIds, seqs)], true);
      return expired.length;
    });
    if (purged < batchSize) {
      while ((await this.writer.run(statements.forgetMarks(below, batchSize))).changes === batchSize);
    }
    return purged;
  }

  async health(): Promise<string | null> {
    if (this.closed) return 'message store closed';
    try {
      // Touches the table (one index probe) through the writer: a server that answers but lost our database,
      // or a SQLite writer that stopped, is not healthy. A writer not started yet has nothing to lose.
      if (this.writer.started) await this.writer.run({ sql: this.healthSql, params: [] });
      else await this.dataSource.query(this.healthSql);
      return null;
    } catch (err) {
      return `${this.dialect.name} message store unreachable: ${(err as Error).message}`;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.close();
    await this.dataSource.destroy();
  }

  /** Look up duplicates and each stream's last sequence, then insert the rest numbered, in one statement. */
  private async appendInSteps(statements: SteppedAppend, batch: readonly NewMessage[]): Promise<AppendResult[]> {
    const streamIds = batch.map((message) => message.streamId);
    const uuidKeys = batch.map((message) => encodeUuid(message.messageUuid));
    const distinctStreams = [...new Set(streamIds)];
    const { rows } = await this.writer.run(statements.lookup(streamIds, uuidKeys, distinctStreams));
    const storedRows: Row[] = [];
    const lastSeq = new Map<string, number>();
    for (const row of rows) {
      if (row.i === null) storedRows.push(row);
      else if (row.last_seq !== null || row.marked !== null) {
        lastSeq.set(distinctStreams[Number(row.i)], Math.max(Number(row.last_seq ?? -1), Number(row.marked ?? -1)));
      }
    }
    const columns: MessageColumns & { seqs: number[] } = {
      streamIds: [],
      seqs: [],
      uuidKeys: [],
      createdAt: [],
      expiresAt: [],
      payloads: [],
    };
    const freshBase = freshStreamBase();
    const results = resolveBatch(batch, uuidKeys, storedRows, (message, uuidKey) => {
      const seq = (lastSeq.get(message.streamId) ?? freshBase - 1) + 1;
      lastSeq.set(message.streamId, seq);
      columns.streamIds.push(message.streamId);
      columns.seqs.push(seq);
      columns.uuidKeys.push(uuidKey);
      columns.createdAt.push(message.timestamp);
      columns.expiresAt.push(message.expiresAt);
      columns.payloads.push(message.messageJson);
    });
    if (columns.streamIds.length > 0) await this.writer.run(statements.insert(columns));
    return results;
  }

  /** The append as statements sent at once, the database numbering and deduplicating (PostgreSQL, SQLite). */
  private async appendAtomically(append: AtomicAppend, batch: readonly NewMessage[]): Promise<AppendResult[]> {
    const uuidKeys = batch.map((message) => encodeUuid(message.messageUuid));
    const statements = append(
      {
        streamIds: batch.map((message) => message.streamId),
        uuidKeys,
        createdAt: batch.map((message) => message.timestamp),
        expiresAt: batch.map((message) => message.expiresAt),
        payloads: batch.map((message) => message.messageJson),
      },
      freshStreamBase(),
    );
    // A single statement is atomic by itself (autocommit); several need a transaction, sent in one go.
    const [first] = statements;
    const storedRows =
      statements.length === 1 && 'params' in first
        ? (await this.writer.run(first)).rows
        : (await this.writer.atomically(statements))[0];
    return resolveBatch(batch, uuidKeys, storedRows, () => undefined);
  }
}

/** The first sequence of a stream with no stored message nor mark, starting at `now` (see SEQUENCES_PER_MS). */
function freshStreamBase(now = Date.now()): number {
  return Math.floor(now / 1000) * 1000 * SEQUENCES_PER_MS;
}

/**
 * Which of the batch's messages are duplicates: of a stored row (`storedRows`: stream_id, message_uuid,
 * created_at) or of an earlier message of the batch. Calls `store` for each of the others, in batch order.
 */
function resolveBatch(
  batch: readonly NewMessage[],
  uuidKeys: readonly string[],
  storedRows: readonly Row[],
  store: (message: NewMessage, uuidKey: string) => void,
): AppendResult[] {
  const stored = new Map<string, number>();
  for (const row of storedRows)
    stored.set(`${String(row.stream_id)} ${String(row.message_uuid)}`, Number(row.created_at));
  const results = new Array<AppendResult>(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const message = batch[i];
    const key = `${message.streamId} ${uuidKeys[i]}`;
    const original = stored.get(key);
    if (original !== undefined) {
      results[i] = { duplicate: true, timestamp: original };
      continue;
    }
    stored.set(key, message.timestamp);
    store(message, uuidKeys[i]);
    results[i] = { duplicate: false, timestamp: message.timestamp };
  }
  return results;
}

/** Session locks held around the migrations, so nodes starting at once against one database take turns. */
const MIGRATION_LOCKS = {
  postgres: { take: 'SELECT pg_advisory_lock(4242000)', release: 'SELECT pg_advisory_unlock(4242000)' },
  mysql: { take: "SELECT GET_LOCK('ipubsub_migrations', 120)", release: "SELECT RELEASE_LOCK('ipubsub_migrations')" },
} as const;

async function migrateExclusively(dataSource: DataSource, type: SqlStoreOptions['type']): Promise<void> {
  if (type === 'sqlite') {
    await dataSource.runMigrations();
    return;
  }
  const lock = MIGRATION_LOCKS[type];
  const session = dataSource.createQueryRunner();
  try {
    await session.query(lock.take);
    await dataSource.runMigrations();
  } finally {
    await session.query(lock.release).catch(() => undefined);
    await session.release();
  }
}

function dataSourceOptions(options: SqlStoreOptions): DataSourceOptions {
  const common = {
    migrations: MIGRATIONS,
    // Run by migrateExclusively: TypeORM creates its migrations table outside any lock.
    migrationsRun: false,
    migrationsTableName: 'ipubsub_migrations',
    logging: false,
  } as const;
  switch (options.type) {
    case 'sqlite':
      return {
        ...common,
        type: 'better-sqlite3',
        database: join(options.directory!, SQLITE_FILE),
        enableWAL: true,
        statementCacheSize: 500,
        // This connection migrates and then only reads; SqliteWriter's connection commits with fsync.
        prepareDatabase: (db: { pragma(source: string): unknown }) => {
          db.pragma('synchronous = FULL');
          db.pragma('cache_size = -32768');
        },
      };
    case 'postgres':
      return {
        ...common,
        type: 'postgres',
        url: options.url,
        poolSize: options.poolSize,
        connectTimeoutMS: 5_000,
        applicationName: 'ipubsub',
        // Statements stay prepared per connection (POSTGRES_QUERY) but are planned at each run: a plan cached while
        // the table was empty would keep scanning it once it has grown.
        extra: { query_timeout: 15_000, options: '-c plan_cache_mode=force_custom_plan' },
      };
    case 'mysql':
      return {
        ...common,
        type: 'mysql',
        url: options.url,
        poolSize: options.poolSize,
        connectTimeout: 5_000,
        charset: 'utf8mb4',
      };
  }
}

/** Where the store lives, for messages: the file, or the URL without its password. */
function describeLocation(options: SqlStoreOptions): string {
  if (options.type === 'sqlite') return join(options.directory!, SQLITE_FILE);
  try {
    const url = new URL(options.url!);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return '(unparsable store.url)';
  }
}

function encodeSequence(seq: number): StorePosition {
  const position = Buffer.allocUnsafe(8);
  position.writeUInt32BE(Math.floor(seq / TWO_POW_32), 0);
  position.writeUInt32BE(seq % TWO_POW_32, 4);
  return position;
}

function decodeSequence(position: StorePosition): number {
  if (position.length !== 8) throw new InvalidPositionError('not a SQL store position');
  const seq = position.readUInt32BE(0) * TWO_POW_32 + position.readUInt32BE(4);
  if (!Number.isSafeInteger(seq)) throw new InvalidPositionError('not a SQL store position');
  return seq;
}
