import type { DataSource } from 'typeorm';
import type { Statement } from './append-statements.js';
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
  /** Runs `work` in one transaction; commits when it resolves, rolls back when it rejects. */
  transaction<T>(work: (query: TransactionQuery) => Promise<T>): Promise<T>;
  /** Runs one statement on its own (atomically): the rows it returned and how many it changed. */
  run(statement: Statement): Promise<StatementResult>;
  close(): Promise<void>;
}

/** Writes through TypeORM's pool (PostgreSQL, MySQL): each transaction on a connection of its own. */
export class TypeOrmWriter implements SqlWriter {
  constructor(private readonly dataSource: DataSource) {}

  async transaction<T>(work: (query: TransactionQuery) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.startTransaction();
      const result = await work(async (statements) => {
        const rows: Row[][] = [];
        for (const { sql, params } of statements) rows.push(await runner.query(sql, params));
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

  async run({ sql, params }: Statement): Promise<StatementResult> {
    const runner = this.dataSource.createQueryRunner();
    try {
      const result = await runner.query(sql, params, true);
      return { rows: result.records ?? [], changes: result.affected ?? 0 };
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
 * Writes through the single SQLite write connection in its worker thread. SQLite has one writer, so
 * transactions and statements queue here and run one after another, never inside each other.
 */
export class SqliteWorkerWriter implements SqlWriter {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly writer: SqliteWriter) {}

  transaction<T>(work: (query: TransactionQuery) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
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
        // Fails harmlessly when the transaction never began.
        await this.writer.run([ROLLBACK]).catch(() => undefined);
        throw err;
      }
    });
  }

  async run(statement: Statement): Promise<StatementResult> {
    return this.exclusive(async () => (await this.writer.run([statement]))[0]);
  }

  close(): Promise<void> {
    return this.exclusive(() => this.writer.close());
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
