import type { DataSource } from 'typeorm';
import type { IsolationLevel } from 'typeorm/driver/types/IsolationLevel.js';
import type { SqliteWriter } from './sqlite-writer.js';

export type Row = Record<string, unknown>;
/** Runs one statement inside a transaction; resolves to the rows it returned (none for a write). */
export type TransactionQuery = (sql: string, params: unknown[]) => Promise<Row[]>;

/** Where the store's writes go: transactions, and single statements that change rows. */
export interface SqlWriter {
  /** Runs `work` in one transaction; commits when it resolves, rolls back when it rejects. */
  transaction<T>(work: (query: TransactionQuery) => Promise<T>): Promise<T>;
  /** Runs one statement on its own; resolves to the rows it changed. */
  run(sql: string, params: unknown[]): Promise<number>;
  close(): Promise<void>;
}

/** Writes through TypeORM's pool (PostgreSQL, MySQL): each transaction on a connection of its own. */
export class TypeOrmWriter implements SqlWriter {
  constructor(
    private readonly dataSource: DataSource,
    private readonly isolation: IsolationLevel | undefined,
  ) {}

  async transaction<T>(work: (query: TransactionQuery) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.startTransaction(this.isolation);
      const result = await work((sql, params) => runner.query(sql, params));
      await runner.commitTransaction();
      return result;
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }

  async run(sql: string, params: unknown[]): Promise<number> {
    const runner = this.dataSource.createQueryRunner();
    try {
      return (await runner.query(sql, params, true)).affected ?? 0;
    } finally {
      await runner.release();
    }
  }

  async close(): Promise<void> {
    // The DataSource, which owns the pool, is destroyed by the store.
  }
}

/**
 * Writes through the single SQLite write connection in its worker thread. SQLite has one writer, so
 * transactions and statements queue here and run one after another, never inside each other.
 */
export class SqliteWorkerWriter implements SqlWriter {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly writer: SqliteWriter) {}

  transaction<T>(work: (query: TransactionQuery) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      await this.writer.run('BEGIN IMMEDIATE');
      try {
        const result = await work(async (sql, params) => (await this.writer.run(sql, params)).rows);
        await this.writer.run('COMMIT');
        return result;
      } catch (err) {
        await this.writer.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  run(sql: string, params: unknown[]): Promise<number> {
    return this.exclusive(async () => (await this.writer.run(sql, params)).changes);
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
