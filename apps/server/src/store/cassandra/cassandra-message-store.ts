import { Client, ExecutionProfile, auth, policies } from 'cassandra-driver';
import {
  StoreUnavailableError,
  type AppendResult,
  type MessageStore,
  type NewMessage,
  type ReadResult,
  type StorePosition,
} from '../message-store.js';
import { CassandraAppends } from './cassandra-appends.js';
import { ExpiryIndex } from './cassandra-expiry.js';
import { CassandraReads } from './cassandra-reads.js';
import { createSchema } from './cassandra-schema.js';
import { CassandraSession } from './cassandra-session.js';
import { parseCassandraUrl, redactCassandraUrl, type CassandraSettings } from './cassandra-settings.js';

/** Group commits of disjoint streams in flight at once: each waits on a few round trips, not on a disk. */
const APPEND_CONCURRENCY = 4;

/**
 * The message store on Apache Cassandra through cassandra-driver: prepared statements, token-aware routing,
 * one configurable consistency level, TTLs that expire messages natively. See docs/operations/cassandra.md.
 * Writes are `CassandraAppends`, reads `CassandraReads`, the purge `ExpiryIndex`; this ties them to one session.
 */
export class CassandraMessageStore implements MessageStore {
  readonly appendConcurrency = APPEND_CONCURRENCY;
  private closed = false;
  private readonly expiry: ExpiryIndex;
  private readonly appends: CassandraAppends;
  private readonly reads: CassandraReads;

  private constructor(
    private readonly session: CassandraSession,
    settings: CassandraSettings,
  ) {
    this.expiry = new ExpiryIndex(session);
    this.appends = new CassandraAppends(session, settings, this.expiry);
    this.reads = new CassandraReads(session);
  }

  /** Connects, creates the keyspace and tables if missing; rejects with StoreUnavailableError saying why not. */
  static async open(url: string): Promise<CassandraMessageStore> {
    const settings = parseCassandraUrl(url);
    const client = new Client({
      contactPoints: [...settings.contactPoints],
      localDataCenter: settings.localDataCenter,
      authProvider:
        settings.credentials === null
          ? undefined
          : new auth.PlainTextAuthProvider(settings.credentials.username, settings.credentials.password),
      policies: {
        // Token-aware: each request goes to a replica of its partition in the local DC, least busy first.
        loadBalancing: new policies.loadBalancing.DefaultLoadBalancingPolicy({ localDc: settings.localDataCenter }),
      },
      profiles: [new ExecutionProfile('default', { consistency: settings.consistency, readTimeout: 12_000 })],
      // Every statement is an upsert or delete at an explicit timestamp, so retrying one is harmless.
      queryOptions: { prepare: true, isIdempotent: true, consistency: settings.consistency },
      socketOptions: { connectTimeout: 5_000 },
      encoding: { useBigIntAsLong: true },
    });
    try {
      await client.connect();
      await createSchema(client, settings);
    } catch (err) {
      await client.shutdown().catch(() => undefined);
      // The driver's first line says which hosts failed and why; a stack trace follows it.
      const reason = (err as Error).message.split('\n')[0];
      throw new StoreUnavailableError(
        `cannot open the cassandra message store at ${redactCassandraUrl(url)}: ${reason}`,
      );
    }
    return new CassandraMessageStore(new CassandraSession(client, settings.keyspace), settings);
  }

  async append(batch: readonly NewMessage[]): Promise<AppendResult[]> {
    this.assertOpen();
    return this.appends.append(batch);
  }

  async readAfter(streamId: string, after: StorePosition | null, limit: number, now: number): Promise<ReadResult> {
    this.assertOpen();
    return this.reads.readAfter(streamId, after, limit, now);
  }

  async purgeExpired(now: number, batchSize: number): Promise<number> {
    this.assertOpen();
    return this.expiry.purgeExpired(now, batchSize);
  }

  async health(): Promise<string | null> {
    if (this.closed) return 'message store closed';
    try {
      await this.session.execute(this.session.cql.health, []);
      return null;
    } catch (err) {
      return `cassandra message store unreachable: ${(err as Error).message}`;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreUnavailableError('message store closed');
  }
}
