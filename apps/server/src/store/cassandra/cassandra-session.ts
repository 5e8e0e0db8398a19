import { type Client, type types } from 'cassandra-driver';
import { InFlightLimit } from './in-flight-limit.js';

/** Requests in flight per store. */
const IN_FLIGHT = 512;

/** Every statement, with table names qualified by the keyspace (prepared ids then never depend on a session's). */
export function statements(ks: string) {
  return {
    readHead: `SELECT last_seq, bucket, bucket_messages, bucket_expires_at, expires_at FROM ${ks}.streams WHERE stream_id = ? ORDER BY bucket DESC LIMIT 1`,
    writeHead: `UPDATE ${ks}.streams USING TTL ? AND TIMESTAMP ? SET last_seq = ?, expires_at = ? WHERE stream_id = ?`,
    writeBucket: `INSERT INTO ${ks}.streams (stream_id, bucket, bucket_messages, bucket_expires_at) VALUES (?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?`,
    bucketsFrom: `SELECT bucket, bucket_expires_at FROM ${ks}.streams WHERE stream_id = ? AND bucket > ? LIMIT ?`,
    readId: `SELECT bucket, seq, writer, created_at FROM ${ks}.message_ids WHERE stream_id = ? AND message_uuid = ?`,
    readUuidAt: `SELECT message_uuid FROM ${ks}.messages WHERE stream_id = ? AND bucket = ? AND seq = ? AND writer = ?`,
    writeMessage: `INSERT INTO ${ks}.messages (stream_id, bucket, seq, writer, message_uuid, created_at, expires_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?`,
    writeId: `INSERT INTO ${ks}.message_ids (stream_id, message_uuid, bucket, seq, writer, created_at) VALUES (?, ?, ?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?`,
    writeExpiration: `INSERT INTO ${ks}.expirations (slot, shard, expires_at, stream_id, bucket, seq, writer, message_uuid) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?`,
    writeSlot: `INSERT INTO ${ks}.expiration_slots (part, slot) VALUES (0, ?) USING TTL ?`,
    readFrom: `SELECT seq, writer, message_uuid, created_at, expires_at, payload FROM ${ks}.messages WHERE stream_id = ? AND bucket = ? AND (seq, writer) > (?, ?) LIMIT ?`,
    readAll: `SELECT seq, writer, message_uuid, created_at, expires_at, payload FROM ${ks}.messages WHERE stream_id = ? AND bucket = ? LIMIT ?`,
    slotsBetween: `SELECT slot FROM ${ks}.expiration_slots WHERE part = 0 AND slot >= ? AND slot <= ?`,
    dueExpirations: `SELECT expires_at, stream_id, bucket, seq, writer, message_uuid, WRITETIME(message_uuid) AS written FROM ${ks}.expirations WHERE slot = ? AND shard = ? AND expires_at > ? AND expires_at <= ? LIMIT ?`,
    deleteMessage: `DELETE FROM ${ks}.messages USING TIMESTAMP ? WHERE stream_id = ? AND bucket = ? AND seq = ? AND writer = ?`,
    deleteId: `DELETE FROM ${ks}.message_ids USING TIMESTAMP ? WHERE stream_id = ? AND message_uuid = ?`,
    deleteExpiration: `DELETE FROM ${ks}.expirations USING TIMESTAMP ? WHERE slot = ? AND shard = ? AND expires_at = ? AND stream_id = ? AND bucket = ? AND seq = ? AND writer = ?`,
    readStreamExpiry: `SELECT expires_at, WRITETIME(expires_at) AS written FROM ${ks}.streams WHERE stream_id = ? LIMIT 1`,
    deleteStream: `DELETE FROM ${ks}.streams USING TIMESTAMP ? WHERE stream_id = ?`,
    // A point read of our own table (a key no stream has: ids cannot hold spaces), so it fails when the keyspace
    // is gone or too few replicas answer.
    health: `SELECT last_seq FROM ${ks}.streams WHERE stream_id = ' health'`,
  } as const;
}

export type Statements = ReturnType<typeof statements>;

/** The driver's client behind the store's in-flight limit, with the keyspace's statements. */
export class CassandraSession {
  readonly cql: Statements;
  private readonly limit = new InFlightLimit(IN_FLIGHT);

  constructor(
    private readonly client: Client,
    keyspace: string,
  ) {
    this.cql = statements(keyspace);
  }

  execute(query: string, params: unknown[], fetchSize?: number): Promise<types.ResultSet> {
    return this.limit.run(() =>
      this.client.execute(query, params, fetchSize === undefined ? undefined : { fetchSize, autoPage: false }),
    );
  }

  /** One request per partition: a single statement, or an unlogged batch applied as one mutation. */
  send(writes: PartitionWrites): Promise<unknown> {
    return mapAll(writes.groups(), (queries) =>
      queries.length === 1
        ? this.execute(queries[0].query, queries[0].params)
        : this.limit.run(() => this.client.batch(queries, { logged: false })),
    );
  }

  /** Lets what is in flight finish, then disconnects. */
  async close(): Promise<void> {
    await this.limit.idle();
    await this.client.shutdown();
  }
}

interface Statement {
  readonly query: string;
  readonly params: unknown[];
}

/** Statements grouped by the partition they write (null: a partition no other statement of the batch writes). */
export class PartitionWrites {
  private readonly byPartition = new Map<string, Statement[]>();
  private readonly single: Statement[][] = [];

  add(partition: string | null, query: string, params: unknown[]): void {
    if (partition === null) {
      this.single.push([{ query, params }]);
      return;
    }
    const statements = this.byPartition.get(partition);
    if (statements === undefined) this.byPartition.set(partition, [{ query, params }]);
    else statements.push({ query, params });
  }

  groups(): Statement[][] {
    return [...this.byPartition.values(), ...this.single];
  }
}

/** `work` for every item at once (the in-flight limit applies to each request underneath). */
export function mapAll<I, T>(items: readonly I[], work: (item: I, index: number) => Promise<T>): Promise<T[]> {
  return Promise.all(items.map(work));
}
