import { once } from 'node:events';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { RepeatedStatement, Statement } from './append-statements.js';

type Row = Record<string, unknown>;

/** What a statement gave back: rows for a query, the number of rows changed otherwise. */
export interface StatementResult {
  readonly rows: Row[];
  readonly changes: number;
}

/**
 * The worker: one better-sqlite3 connection running statements in the order they arrive, several per message,
 * a repeated statement once per row of parameters. A message stops at the first statement that fails and rolls
 * back the transaction it was in, so a message queued behind it starts outside any transaction. Plain
 * JavaScript, evaluated as the worker's script, so it runs the same from the sources (tests) and the bundle.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { timeout: 5000 });
db.pragma('journal_mode = WAL');
// FULL: every commit is fsynced, so a 200 survives a power cut too; the group commit shares that cost.
db.pragma('synchronous = FULL');
const prepared = new Map();
function prepare(sql) {
  let statement = prepared.get(sql);
  if (statement === undefined) {
    if (prepared.size >= 256) prepared.delete(prepared.keys().next().value);
    statement = db.prepare(sql);
    prepared.set(sql, statement);
  }
  return statement;
}
parentPort.on('message', ({ id, statements }) => {
  if (id === 0) {
    db.close();
    parentPort.close();
    return;
  }
  const results = [];
  try {
    for (const { sql, params, paramRows } of statements) {
      const statement = prepare(sql);
      if (paramRows === undefined) {
        if (statement.reader) results.push({ rows: statement.all(params), changes: 0 });
        else results.push({ rows: [], changes: statement.run(params).changes });
      } else if (statement.reader) {
        const rows = [];
        for (const row of paramRows) for (const found of statement.all(row)) rows.push(found);
        results.push({ rows, changes: 0 });
      } else {
        let changes = 0;
        for (const row of paramRows) changes += statement.run(row).changes;
        results.push({ rows: [], changes });
      }
    }
    parentPort.postMessage({ id, results });
  } catch (err) {
    // A failed rollback leaves the transaction open; the next BEGIN then fails and says so.
    try {
      if (db.inTransaction) db.prepare('ROLLBACK').run();
    } catch {}
    parentPort.postMessage({ id, error: { message: err.message, code: err.code } });
  }
});
`;

interface Pending {
  resolve(results: StatementResult[]): void;
  reject(err: Error): void;
}

/** An error raised by SQLite in the worker, with its code (SQLITE_CONSTRAINT_UNIQUE, ...). */
export class SqliteWorkerError extends Error {
  override readonly name = 'SqliteWorkerError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/**
 * The SQLite write connection, in a worker thread. A durable commit waits for an fsync; in the worker that
 * wait no longer stops the event loop, so requests keep being read (and form the next group commit) while the
 * disk works. Reads stay on the main thread's own connection: WAL lets them run beside the writer and they
 * only ever see committed batches.
 */
export class SqliteWriter {
  /** Started by the first write: a node that never stores a message does not pay for a second V8 isolate. */
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | null = null;
  private exited: Promise<unknown> = Promise.resolve();

  constructor(private readonly file: string) {}

  /** Whether the worker (and its connection) has been started. */
  get started(): boolean {
    return this.worker !== undefined;
  }

  private start(): Worker {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file: this.file } });
    worker.on(
      'message',
      (message: { id: number; results: StatementResult[]; error?: { message: string; code?: string } }) => {
        const pending = this.pending.get(message.id);
        if (pending === undefined) return;
        this.pending.delete(message.id);
        if (message.error !== undefined)
          pending.reject(new SqliteWorkerError(message.error.message, message.error.code));
        else pending.resolve(message.results);
      },
    );
    worker.on('error', (err) => this.fail(err));
    this.exited = once(worker, 'exit').then(() => this.fail(new Error('SQLite writer stopped')));
    return worker;
  }

  /** Runs the statements in order, in one message to the worker; calls run in call order. */
  run(statements: readonly (Statement | RepeatedStatement)[]): Promise<StatementResult[]> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<StatementResult[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      (this.worker ??= this.start()).postMessage({ id, statements });
    });
  }

  /** Finishes the statements already sent, closes the connection and stops the worker. */
  async close(): Promise<void> {
    if (this.worker === undefined) this.failure ??= new Error('SQLite writer closed');
    else if (this.failure === null) this.worker.postMessage({ id: 0 });
    await this.exited;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const pending of this.pending.values()) pending.reject(this.failure);
    this.pending.clear();
  }
}
