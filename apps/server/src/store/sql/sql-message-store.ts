import { join } from 'node:path';
import { DataSource, type DataSourceOptions, type QueryRunner } from 'typeorm';
import {
  InvalidPositionError,
  StoreUnavailableError,
  type AppendResult,
  type MessageStore,
  type NewMessage,
  type ReadResult,
  type StoredMessage,
  type StorePosition,
} from '../message-store.js';
import { MIGRATIONS } from './migrations.js';
import { MESSAGES_TABLE, MYSQL, POSTGRES, SQLITE, type SqlDialect } from './sql-dialect.js';

export interface SqlStoreOptions {
  readonly type: 'sqlite' | 'postgres' | 'mysql';
  /** Connection URL (postgres, mysql). */
  readonly url?: string;
  /** Directory of the database file (sqlite). */
  readonly directory?: string;
}

export const SQLITE_FILE = 'messages.sqlite3';

/**
 * A stream whose rows were all purged restarts its sequence from the clock (this many per millisecond), so a
 * new message never reuses a position an old token points at: the reader sees it, with a gap.
 */
const SEQUENCES_PER_MS = 1024;
const TWO_POW_32 = 4_294_967_296;
/** Attempts of a batch that collided with another writer (a stream changing owner mid-batch). */
const APPEND_ATTEMPTS = 3;
const MAX_UNION_TERMS = 250;

type Row = Record<string, unknown>;

/**
 * The message store on SQLite, PostgreSQL or MySQL/MariaDB through TypeORM: TypeORM opens the database, runs
 * the migrations and runs transactions; the statements are plain SQL so a batch is one multi-row insert.
 *
 * A position is the 8-byte per-stream sequence number. Sequences are contiguous within a stream, so a hole
 * between the reader's position and the next message returned is a message removed by TTL: a gap.
 */
export class SqlMessageStore implements MessageStore {
  private closed = false;
  /** Tail of the chain that runs every statement in order on a single-connection database. */
  private tail: Promise<unknown> = Promise.resolve();
  private readonly readSql: string;
  private readonly healthSql = `SELECT seq FROM ${MESSAGES_TABLE} WHERE stream_id = '' AND seq = 0`;

  private constructor(
    private readonly dataSource: DataSource,
    private readonly dialect: SqlDialect,
  ) {
    const p = dialect.param;
    this.readSql =
      `SELECT seq, message_uuid, created_at, payload FROM ${MESSAGES_TABLE}` +
      ` WHERE stream_id = ${p(0)} AND seq > ${p(1)} AND expires_at > ${p(2)} ORDER BY seq LIMIT ${p(3)}`;
  }

  /** Connects and migrates; rejects with StoreUnavailableError saying what could not be reached. */
  static async open(options: SqlStoreOptions): Promise<SqlMessageStore> {
    const dialect = { sqlite: SQLITE, postgres: POSTGRES, mysql: MYSQL }[options.type];
    const dataSource = new DataSource(dataSourceOptions(options));
    try {
      await dataSource.initialize();
    } catch (err) {
      if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
      throw new StoreUnavailableError(
        `cannot open the ${options.type} message store at ${describeLocation(options)}: ${(err as Error).message}`,
      );
    }
    return new SqlMessageStore(dataSource, dialect);
  }

  append(batch: readonly NewMessage[]): Promise<AppendResult[]> {
    return this.exclusive(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.transaction((runner) => this.appendIn(runner, batch));
        } catch (err) {
          // Another writer stored into one of these streams between our reads and the insert: read again.
          if (attempt >= APPEND_ATTEMPTS || !this.dialect.isUniqueViolation(err)) throw err;
        }
      }
    });
  }

  async readAfter(streamId: string, after: StorePosition | null, limit: number, now: number): Promise<ReadResult> {
    const afterSeq = after === null ? 0 : decodeSequence(after);
    const rows: Row[] = await this.exclusive(() => this.dataSource.query(this.readSql, [streamId, afterSeq, now, limit]));
    const messages: StoredMessage[] = new Array(rows.length);
    let gap = false;
    let expected = after === null ? -1 : afterSeq + 1;
    let seq = 0;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      seq = Number(row.seq);
      if (seq !== expected && expected !== -1) gap = true;
      expected = seq + 1;
      messages[i] = {
        messageUuid: decodeUuid(String(row.message_uuid)),
        messageJson: row.payload as string,
        timestamp: Number(row.created_at),
      };
    }
    return { messages, position: rows.length === 0 ? null : encodeSequence(seq), gap };
  }

  purgeExpired(now: number, batchSize: number): Promise<number> {
    return this.exclusive(async () => {
      const runner = this.dataSource.createQueryRunner();
      try {
        const result = await runner.query(this.dialect.purgeSql, [now, batchSize], true);
        return result.affected ?? 0;
      } finally {
        await runner.release();
      }
    });
  }

  async health(): Promise<string | null> {
    if (this.closed) return 'message store closed';
    try {
      // Touches the table (one index probe): a server that answers but lost our database is not healthy.
      await this.exclusive(() => this.dataSource.query(this.healthSql));
      return null;
    } catch (err) {
      return `${this.dialect.name} message store unreachable: ${(err as Error).message}`;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.exclusive(() => this.dataSource.destroy());
  }

  /** One transaction: find duplicates and each stream's last sequence, then insert the rest in one statement. */
  private async appendIn(runner: QueryRunner, batch: readonly NewMessage[]): Promise<AppendResult[]> {
    const uuidKeys = batch.map((message) => encodeUuid(message.messageUuid));
    const stored = await this.storedTimestamps(runner, batch, uuidKeys);
    const lastSeq = await this.lastSequences(runner, batch);
    const results: AppendResult[] = new Array(batch.length);
    const values: unknown[] = [];
    const freshStreamBase = Date.now() * SEQUENCES_PER_MS;
    for (let i = 0; i < batch.length; i++) {
      const message = batch[i];
      const key = `${message.streamId} ${uuidKeys[i]}`;
      const original = stored.get(key);
      if (original !== undefined) {
        results[i] = { duplicate: true, timestamp: original };
        continue;
      }
      stored.set(key, message.timestamp);
      const seq = (lastSeq.get(message.streamId) ?? freshStreamBase - 1) + 1;
      lastSeq.set(message.streamId, seq);
      values.push(message.streamId, seq, uuidKeys[i], message.timestamp, message.expiresAt, message.messageJson);
      results[i] = { duplicate: false, timestamp: message.timestamp };
    }
    if (values.length > 0) {
      const sql = `INSERT INTO ${MESSAGES_TABLE} (stream_id, seq, message_uuid, created_at, expires_at, payload) VALUES ${this.tuples(values.length / 6, 6)}`;
      await runner.query(sql, values);
    }
    return results;
  }

  /** Timestamps of the batch's (stream, messageUuid) pairs already stored, keyed `streamId uuidKey`. */
  private async storedTimestamps(runner: QueryRunner, batch: readonly NewMessage[], uuidKeys: string[]): Promise<Map<string, number>> {
    const params: unknown[] = new Array(batch.length * 2);
    for (let i = 0; i < batch.length; i++) {
      params[2 * i] = batch[i].streamId;
      params[2 * i + 1] = uuidKeys[i];
    }
    const rows: Row[] = await runner.query(
      `SELECT stream_id, message_uuid, created_at FROM ${MESSAGES_TABLE} WHERE (stream_id, message_uuid) IN (${this.tuples(batch.length, 2)})`,
      params,
    );
    const stored = new Map<string, number>();
    for (const row of rows) stored.set(`${row.stream_id} ${String(row.message_uuid)}`, Number(row.created_at));
    return stored;
  }

  /**
   * The last sequence of each stream in the batch. One MAX per stream, joined by UNION ALL: each is a single
   * index seek, where a GROUP BY would scan every row of the stream on PostgreSQL and MariaDB. SQLite allows
   * 500 terms in a compound SELECT, hence the chunks.
   */
  private async lastSequences(runner: QueryRunner, batch: readonly NewMessage[]): Promise<Map<string, number>> {
    const streamIds = [...new Set(batch.map((message) => message.streamId))];
    const lastSeq = new Map<string, number>();
    for (let start = 0; start < streamIds.length; start += MAX_UNION_TERMS) {
      const chunk = streamIds.slice(start, start + MAX_UNION_TERMS);
      const selects = chunk.map(
        (_, i) => `SELECT ${i} AS i, MAX(seq) AS last_seq FROM ${MESSAGES_TABLE} WHERE stream_id = ${this.dialect.param(i)}`,
      );
      const rows: Row[] = await runner.query(selects.join(' UNION ALL '), chunk);
      for (const row of rows) {
        if (row.last_seq !== null) lastSeq.set(chunk[Number(row.i)], Number(row.last_seq));
      }
    }
    return lastSeq;
  }

  /** `(?,?),(?,?)…`: `count` tuples of `width` placeholders, numbered in order. */
  private tuples(count: number, width: number): string {
    const parts: string[] = new Array(count);
    for (let t = 0; t < count; t++) {
      const columns: string[] = new Array(width);
      for (let c = 0; c < width; c++) columns[c] = this.dialect.param(t * width + c);
      parts[t] = `(${columns.join(',')})`;
    }
    return parts.join(',');
  }

  private async transaction<T>(work: (runner: QueryRunner) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.startTransaction(this.dialect.isolation);
      const result = await work(runner);
      await runner.commitTransaction();
      return result;
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }

  /** Runs `work` after everything queued before it on a single-connection database; at once on the others. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (!this.dialect.singleConnection) return work();
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

function dataSourceOptions(options: SqlStoreOptions): DataSourceOptions {
  const common = {
    migrations: MIGRATIONS,
    migrationsRun: true,
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
        prepareDatabase: (db: { pragma(source: string): unknown }) => {
          // FULL: each commit is fsynced, so a 200 survives a power cut too; group commit amortises the cost.
          db.pragma('synchronous = FULL');
          db.pragma('cache_size = -32768');
        },
      };
    case 'postgres':
      return {
        ...common,
        type: 'postgres',
        url: options.url,
        poolSize: 10,
        connectTimeoutMS: 5_000,
        applicationName: 'ipubsub',
        extra: { query_timeout: 15_000 },
      };
    case 'mysql':
      return {
        ...common,
        type: 'mysql',
        url: options.url,
        poolSize: 10,
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

/**
 * Ids are stored JSON-escaped: PostgreSQL text cannot hold NUL, and a lone surrogate would come back as U+FFFD
 * from any of the databases. Ordinary ids are unchanged by the escaping.
 */
function encodeUuid(uuid: string): string {
  return JSON.stringify(uuid).slice(1, -1);
}

function decodeUuid(stored: string): string {
  return stored.includes('\\') ? (JSON.parse(`"${stored}"`) as string) : stored;
}
