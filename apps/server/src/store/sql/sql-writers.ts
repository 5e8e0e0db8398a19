import type { DataSource } from 'typeorm';
import type { RepeatedStatement, Statement } from './append-statements.js';
import type { SqliteWriter, StatementResult } from './sqlite-writer.js';

export type Row = Record<string, unknown>;
/**
 * Runs statements in order inside a transaction; resolves to the rows each returned (none for a write).
 * Statements given together may travel together (one message to the SQLite writer), and with `last` the
 * commit travels with them: nothing more may be run in the transaction after those.
 */
export type TransactionQuery = (statements: readonly Statement[], last?: boolean) => Promise<Row[][]>;

/** Where the store's writes go: transactions, and single statements that change rows. */
export interface SqlWriter {
  /** Whether the writer holds a connection of its own yet (SQLite's starts with the first write). */
  readonly started: boolean;
  /** Runs `work` in one transaction; commits when it resolves, rolls back when it rejects. */
  transaction<T>(work: (query: TransactionQuery) => Promise<T>): Promise<T>;
  /** Runs the statements in order in one transaction, sent at once: the rows each returned. */
  atomically(statements: readonly (Statement | RepeatedStatement)[]): Promise<Row[][]>;
  /** Runs one statement on its own (atomically): the rows it returned and how many it changed. */
  run(statement: Statement): Promise<StatementResult>;
  close(): Promise<void>;
}

/**
 * Runs a statement on the driver connection a TypeORM QueryRunner holds, past TypeORM's per-query work (events,
 * logging, copies of the result) and mysql2's promise wrapper (which captures a stack trace per query).
 */
export type DriverQuery = (connection: unknown, statement: Statement) => Promise<StatementResult>;

interface PgClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: Row[]; rowCount: number | null }>;
}

interface MysqlConnection {
  query(sql: string, values: unknown[], callback: (err: Error | null, result: unknown) => void): void;
}

/** Names of the statements PostgreSQL keeps prepared: the store's PostgreSQL statements are a fixed set of texts. */
const preparedNames = new Map<string, string>();

/**
 * PostgreSQL: each statement prepared once per connection, so the append's CTE is not parsed per batch (it is
 * still planned per run, with the table's current statistics: see the store's connection options).
 */
export const POSTGRES_QUERY: DriverQuery = async (client, { sql, params }) => {
  let name = preparedNames.get(sql);
  if (name === undefined) {
    name = `ipubsub_${preparedNames.size + 1}`;
    preparedNames.set(sql, name);
  }
  const result = await (client as PgClient).query({ name, text: sql, values: params });
  return { rows: result.rows, changes: result.rowCount ?? 0 };
};

export const MYSQL_QUERY: DriverQuery = (connection, { sql, params }) =>
  new Promise((resolve, reject) => {
    (connection as MysqlConnection).query(sql, params, (err, result) => {
      if (err !== null) reject(err);
      else if (Array.isArray(result)) resolve({ rows: result as Row[], changes: 0 });
      else resolve({ rows: [], changes: (result as { affectedRows: number }).affectedRows });
    });
  });

/** Writes through TypeORM's pool (PostgreSQL, MySQL): each transaction on a connection of its own. */
export class TypeOrmWriter implements SqlWriter {
  readonly started = true;

  constructor(
    private readonly dataSource: DataSource,
    private readonly query: DriverQuery,
  ) {}

  async transaction<T>(work: (query: TransactionQuery) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.startTransaction();
      const connection: unknown = await runner.connect();
      const result = await work(async (statements) => {
        const rows: Row[][] = [];
        for (const statement of statements) rows.push((await this.query(connection, statement)).rows);
        return rows;
      });
      await runner.commitTransaction();
      return result;
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }

  atomically(statements: readonly (Statement | RepeatedStatement)[]): Promise<Row[][]> {
    const single = statements.map((statement) => {
      // A round trip per row would defeat their purpose: the SQL dialects that use them run on SQLite only.
      if ('paramRows' in statement) throw new Error('repeated statements run on the SQLite writer only');
      return statement;
    });
    return this.transaction((query) => query(single, true));
  }

  async run(statement: Statement): Promise<StatementResult> {
    const runner = this.dataSource.createQueryRunner();
    try {
      return await this.query(await runner.connect(), statement);
    } finally {
      await runner.release();
    }
  }

  async close(): Promise<void> {
    // The DataSource, which owns the pool, is destroyed by the store.
  }
}

const BEGIN: Statement = { sql: 'BEGIN IMMEDIATE', params: [] };
const COMMIT: Statement = { sql: 'COMMIT', params: [] };
const ROLLBACK: Statement = { sql: 'ROLLBACK', params: [] };

/**
 * Writes through the single SQLite write connection in its worker thread. SQLite has one writer, and the worker
 * runs its messages one after another, so a message may be posted while earlier ones still run: a one-hop
 * transaction or statement is queued in the worker at once and starts the moment the one before commits (the
 * worker never waits for this thread). A transaction of several hops holds the connection from its first hop to
 * its last, so nothing is posted in between.
 */
export class SqliteWorkerWriter implements SqlWriter {
  /** Settles when the next message may be posted. */
  private free: Promise<unknown> = Promise.resolve();
  /** Settles when everything posted so far has finished (the worker answers in order). */
  private finished: Promise<unknown> = Promise.resolve();

  constructor(private readonly writer: SqliteWriter) {}

  get started(): boolean {
    return this.writer.started;
  }

  transaction<T>(work: (query: TransactionQuery) => Promise<T>): Promise<T> {
    const run = this.free.then(async () => {
      // BEGIN travels with the transaction's first statements and COMMIT with its last: thread hops saved.
      let begin: Statement[] = [BEGIN];
      let committed = false;
      try {
        const result = await work(async (statements, last = false) => {
          const results = await this.writer.run(last ? [...begin, ...statements, COMMIT] : [...begin, ...statements]);
          const rows = results.slice(begin.length, begin.length + statements.length).map((r) => r.rows);
          begin = [];
          committed = last;
          return rows;
        });
        if (begin.length === 0 && !committed) await this.writer.run([COMMIT]);
        return result;
      } catch (err) {
        // The worker rolled back a failed statement's transaction; this one ends a transaction left open between
        // hops, and fails harmlessly when none is.
        await this.writer.run([ROLLBACK]).catch(() => undefined);
        throw err;
      }
    });
    this.free = this.finished = run.catch(() => undefined);
    return run;
  }

  async atomically(statements: readonly (Statement | RepeatedStatement)[]): Promise<Row[][]> {
    const results = await this.post([BEGIN, ...statements, COMMIT]);
    return results.slice(1, -1).map((result) => result.rows);
  }

  async run(statement: Statement): Promise<StatementResult> {
    return (await this.post([statement]))[0];
  }

  close(): Promise<void> {
    const finished = this.finished;
    const closed = this.free.then(() => finished).then(() => this.writer.close());
    this.free = this.finished = closed.catch(() => undefined);
    return closed;
  }

  /** Posts one message as soon as no transaction holds the connection; the next may be posted right after. */
  private post(statements: readonly (Statement | RepeatedStatement)[]): Promise<StatementResult[]> {
    let result!: Promise<StatementResult[]>;
    const posted = this.free.then(() => {
      result = this.writer.run(statements);
    });
    this.free = posted;
    const done = posted.then(() => result);
    this.finished = done.catch(() => undefined);
    return done;
  }
}
