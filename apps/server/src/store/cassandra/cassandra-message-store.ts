import { randomInt } from 'node:crypto';
import { Client, ExecutionProfile, auth, policies, types } from 'cassandra-driver';
import {
  StoreUnavailableError,
  type AppendResult,
  type MessageStore,
  type NewMessage,
  type ReadResult,
  type StoredMessage,
  type StorePosition,
} from '../message-store.js';
import { decodePosition, encodePosition, type CassandraPosition } from './cassandra-position.js';
import { createSchema } from './cassandra-schema.js';
import { parseCassandraUrl, redactCassandraUrl, type CassandraSettings } from './cassandra-settings.js';
import { InFlightLimit } from './in-flight-limit.js';

/**
 * A new stream (or one whose every message expired) starts its sequence from the clock, this many per
 * millisecond, so a sequence is never reused: a reader's old position is always before the new messages.
 */
const SEQUENCES_PER_MS = 1024;
/** Expiry index granularity: one partition per minute and shard, so no node takes every index write. */
const SLOT_MS = 60_000;
const SHARDS = 16;
/**
 * Visibility follows `expires_at` to the millisecond; the TTL only frees the space. It is rounded up and never
 * below a minute, so Cassandra's whole-second expiry never hides a message a reader may still see.
 */
const MIN_TTL_SECONDS = 60;
/** Cassandra 5.0 in its default storage compatibility mode cannot expire a cell after this (CASSANDRA-14092). */
const LAST_EXPIRY_MS = Date.UTC(2038, 0, 19, 3, 14, 6) - 86_400_000;
const MAX_TTL_SECONDS = 630_720_000;
/** Group commits of disjoint streams in flight at once: each waits on a few round trips, not on a disk. */
const APPEND_CONCURRENCY = 4;
/** Requests in flight per store. */
const IN_FLIGHT = 512;
/** Bucket rows fetched at a time when a read walks a stream forward. */
const BUCKETS_PER_QUERY = 32;

/** Every statement, with table names qualified by the keyspace (prepared ids then never depend on a session's). */
function statements(ks: string) {
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

/** What a stream's `streams` partition says before a batch: null for a stream with nothing stored. */
interface StreamHead {
  readonly lastSeq: number;
  readonly expiresAt: number;
  /** The newest bucket, its message count and latest expiry; null when the stream has no bucket row left. */
  readonly bucket: number | null;
  readonly bucketMessages: number;
  readonly bucketExpiresAt: number;
}

/** A message of the batch to store, where the batch places it. */
interface Placed {
  readonly message: NewMessage;
  readonly uuid: Buffer;
  readonly bucket: number;
  readonly seq: number;
  /** How many buckets of its stream this batch filled before this message's (0: the first). */
  readonly wave: number;
}

/** One stream's part of a batch: where its next message goes, and what its head becomes. */
class StreamAppend {
  lastSeq: number;
  expiresAt: number;
  bucket: number | null;
  bucketMessages: number;
  bucketExpiresAt: number;
  /** messageUuid → timestamp of the ones stored earlier in this batch. */
  readonly seen = new Map<string, number>();
  /** Bucket → [messages, latest expiry] of every bucket this batch writes into. */
  readonly buckets = new Map<number, [number, number]>();

  constructor(
    head: StreamHead | null,
    private readonly settings: CassandraSettings,
  ) {
    this.lastSeq = head?.lastSeq ?? Date.now() * SEQUENCES_PER_MS - 1;
    this.expiresAt = head?.expiresAt ?? 0;
    this.bucket = head?.bucket ?? null;
    this.bucketMessages = head?.bucketMessages ?? 0;
    this.bucketExpiresAt = head?.bucketExpiresAt ?? 0;
  }

  /** The bucket and sequence of the stream's next message. */
  place(message: NewMessage): { bucket: number; seq: number; wave: number } {
    const window = message.timestamp - (message.timestamp % this.settings.bucketMs);
    if (this.bucket === null || window > this.bucket || this.bucketMessages >= this.settings.bucketMessages) {
      // Buckets only move forward, even if the clock steps back: reads walk them in order.
      this.bucket = this.bucket === null ? window : Math.max(window, this.bucket + 1);
      this.bucketMessages = 0;
      this.bucketExpiresAt = 0;
    }
    this.bucketMessages++;
    this.bucketExpiresAt = Math.max(this.bucketExpiresAt, message.expiresAt);
    this.expiresAt = Math.max(this.expiresAt, message.expiresAt);
    this.buckets.set(this.bucket, [this.bucketMessages, this.bucketExpiresAt]);
    return { bucket: this.bucket, seq: ++this.lastSeq, wave: this.buckets.size - 1 };
  }
}

interface DueExpiration {
  readonly slot: number;
  readonly shard: number;
  readonly expiresAt: bigint;
  readonly streamId: string;
  readonly bucket: bigint;
  readonly seq: bigint;
  readonly writer: number;
  readonly uuid: Buffer;
  readonly written: bigint;
}

/**
 * The message store on Apache Cassandra through cassandra-driver: prepared statements, token-aware routing,
 * one configurable consistency level, TTLs that expire messages natively. See docs/operations/cassandra.md.
 *
 * Sequence numbers are per stream and contiguous (a hole is a message that expired or was purged), claimed in
 * the `streams` head before the messages are written: a batch that fails half-way leaves a hole, never a reused
 * number. Idempotency reads `message_ids` before writing (no lightweight transaction): the stream's owner is
 * its only writer, and the group commit never has two batches of one stream in flight.
 */
export class CassandraMessageStore implements MessageStore {
  readonly appendConcurrency = APPEND_CONCURRENCY;
  private closed = false;
  private readonly limit = new InFlightLimit(IN_FLIGHT);
  private readonly cql: ReturnType<typeof statements>;
  /** Tells apart two nodes that write the same stream at once (an ownership change) so neither overwrites. */
  private readonly writer = randomInt(-0x8000_0000, 0x7fff_ffff);
  private lastWriteTime = 0n;
  /** Expiry slots this store has registered in `expiration_slots`. */
  private readonly registeredSlots = new Set<number>();
  /** Every expiration at or before this was purged here or expired natively; the next purge starts after it. */
  private purgedUntil = Date.now() - MIN_TTL_SECONDS * 1000;

  private constructor(
    private readonly client: Client,
    private readonly settings: CassandraSettings,
  ) {
    this.cql = statements(settings.keyspace);
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
    return new CassandraMessageStore(client, settings);
  }

  async append(batch: readonly NewMessage[]): Promise<AppendResult[]> {
    this.assertOpen();
    const uuids = batch.map((message) => Buffer.from(message.messageUuid, 'utf16le'));
    const streamIds = [...new Set(batch.map((message) => message.streamId))];
    const [heads, stored] = await Promise.all([
      mapAll(streamIds, (streamId) => this.readHead(streamId)),
      mapAll(batch, (message, i) => this.storedTimestamp(message.streamId, uuids[i])),
    ]);
    const streams = new Map<string, StreamAppend>();
    for (let i = 0; i < streamIds.length; i++) streams.set(streamIds[i], new StreamAppend(heads[i], this.settings));

    const results = new Array<AppendResult>(batch.length);
    const placed: Placed[] = [];
    for (let i = 0; i < batch.length; i++) {
      const message = batch[i];
      const stream = streams.get(message.streamId)!;
      const original = stream.seen.get(message.messageUuid) ?? stored[i];
      if (original !== null && original !== undefined) {
        results[i] = { duplicate: true, timestamp: original };
        continue;
      }
      stream.seen.set(message.messageUuid, message.timestamp);
      placed.push({ message, uuid: uuids[i], ...stream.place(message) });
      results[i] = { duplicate: false, timestamp: message.timestamp };
    }
    if (placed.length === 0) return results;

    const writeTime = this.nextWriteTime();
    // Heads first: once a sequence is claimed it is never handed out again, whatever happens to the rest.
    const claims = new PartitionWrites();
    for (const [streamId, stream] of streams)
      if (stream.buckets.size > 0) this.writeHead(claims, streamId, stream, writeTime);
    await this.send(claims);
    // A stream's later bucket is written only once its earlier one is: a reader never sees a message before
    // the ones it follows (a batch crosses a bucket boundary once an hour or every bucketMessages at most).
    const waves = [new PartitionWrites()];
    for (const entry of placed) {
      while (waves.length <= entry.wave) waves.push(new PartitionWrites());
      this.writeMessage(waves[0], waves[entry.wave], entry, writeTime);
    }
    await Promise.all([this.send(waves[0]), this.registerSlots(placed)]);
    for (const wave of waves.slice(1)) await this.send(wave);
    return results;
  }

  async readAfter(streamId: string, after: StorePosition | null, limit: number, now: number): Promise<ReadResult> {
    this.assertOpen();
    const from = after === null ? null : decodePosition(after);
    const read = new PageCollector(limit, now, from?.seq ?? null);
    let bucket = from?.bucket ?? Number.MIN_SAFE_INTEGER;
    // The reader's bucket and the list of later ones are fetched together, so a reader at the end of its stream
    // (a long poll, the usual case) costs one round trip; a full page wastes one small read.
    let [later] = await Promise.all([
      this.execute(this.cql.bucketsFrom, [streamId, BigInt(bucket), BUCKETS_PER_QUERY]),
      from === null ? null : this.readBucket(streamId, from.bucket, from, read),
    ]);
    while (!read.full) {
      for (const row of later.rows) {
        if (row.bucket === null) continue; // a partition holding only its static columns
        bucket = Number(row.bucket);
        // Every message of the bucket has expired: skip it unread (the sequence jump reports the gap).
        if (Number(row.bucket_expires_at) <= now) continue;
        await this.readBucket(streamId, bucket, null, read);
        if (read.full) break;
      }
      if (later.rows.length < BUCKETS_PER_QUERY) break;
      later = await this.execute(this.cql.bucketsFrom, [streamId, BigInt(bucket), BUCKETS_PER_QUERY]);
    }
    return read.result();
  }

  async purgeExpired(now: number, batchSize: number): Promise<number> {
    this.assertOpen();
    const from = this.purgedUntil;
    if (now <= from) return 0;
    const due = await this.dueExpirations(from, now, batchSize);
    await mapAll(due, (entry) => this.deleteExpired(entry));
    const streamIds = [...new Set(due.map((entry) => entry.streamId))];
    await mapAll(streamIds, (streamId) => this.forgetStreamIfExpired(streamId, now));
    // A short batch means everything due up to `now` is gone. Never past the wall clock, though: a message
    // appended later may expire before a `now` that is ahead of it.
    if (due.length < batchSize) this.purgedUntil = Math.max(from, Math.min(now, Date.now()));
    for (const slot of this.registeredSlots) if (slot < slotOf(this.purgedUntil)) this.registeredSlots.delete(slot);
    return due.length;
  }

  async health(): Promise<string | null> {
    if (this.closed) return 'message store closed';
    try {
      await this.execute(this.cql.health, []);
      return null;
    } catch (err) {
      return `cassandra message store unreachable: ${(err as Error).message}`;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.limit.idle();
    await this.client.shutdown();
  }

  private async readHead(streamId: string): Promise<StreamHead | null> {
    const row = (await this.execute(this.cql.readHead, [streamId])).first();
    if (row === null || row.last_seq === null) return null;
    return {
      lastSeq: Number(row.last_seq),
      expiresAt: Number(row.expires_at),
      bucket: row.bucket === null ? null : Number(row.bucket),
      bucketMessages: (row.bucket_messages as number | null) ?? 0,
      bucketExpiresAt: row.bucket_expires_at === null ? 0 : Number(row.bucket_expires_at),
    };
  }

  /**
   * The timestamp of the stream's stored message with this id, or null. The id record is trusted only if its
   * message is there: a batch that failed after writing the record but not the message stored nothing.
   */
  private async storedTimestamp(streamId: string, uuid: Buffer): Promise<number | null> {
    const id = (await this.execute(this.cql.readId, [streamId, uuid])).first();
    if (id === null) return null;
    const message = (await this.execute(this.cql.readUuidAt, [streamId, id.bucket, id.seq, id.writer])).first();
    return message !== null && uuid.equals(message.message_uuid as Buffer) ? Number(id.created_at) : null;
  }

  private writeHead(writes: PartitionWrites, streamId: string, stream: StreamAppend, writeTime: bigint): void {
    const partition = `streams ${streamId}`;
    writes.add(partition, this.cql.writeHead, [
      ttlSeconds(stream.expiresAt),
      writeTime,
      BigInt(stream.lastSeq),
      BigInt(stream.expiresAt),
      streamId,
    ]);
    for (const [bucket, [messages, expiresAt]] of stream.buckets) {
      writes.add(partition, this.cql.writeBucket, [
        streamId,
        BigInt(bucket),
        messages,
        BigInt(expiresAt),
        ttlSeconds(expiresAt),
        writeTime,
      ]);
    }
  }

  /** The message goes to `messages`, its id record and index entry to `records`. */
  private writeMessage(
    records: PartitionWrites,
    messages: PartitionWrites,
    { message, uuid, bucket, seq }: Placed,
    writeTime: bigint,
  ): void {
    const ttl = ttlSeconds(message.expiresAt);
    const streamId = message.streamId;
    const [bucketKey, seqKey, createdAt, expiresAt] = [
      BigInt(bucket),
      BigInt(seq),
      BigInt(message.timestamp),
      BigInt(message.expiresAt),
    ];
    messages.add(`messages ${streamId} ${bucket}`, this.cql.writeMessage, [
      streamId,
      bucketKey,
      seqKey,
      this.writer,
      uuid,
      createdAt,
      expiresAt,
      message.messageJson,
      ttl,
      writeTime,
    ]);
    records.add(null, this.cql.writeId, [streamId, uuid, bucketKey, seqKey, this.writer, createdAt, ttl, writeTime]);
    const [slot, shard] = [slotOf(message.expiresAt), shardOf(streamId)];
    records.add(`expirations ${slot} ${shard}`, this.cql.writeExpiration, [
      BigInt(slot),
      shard,
      expiresAt,
      streamId,
      bucketKey,
      seqKey,
      this.writer,
      uuid,
      ttl,
      writeTime,
    ]);
  }

  /** One request per partition: a single statement, or an unlogged batch applied as one mutation. */
  private send(writes: PartitionWrites): Promise<unknown> {
    return mapAll(writes.groups(), (queries) =>
      queries.length === 1
        ? this.execute(queries[0].query, queries[0].params)
        : this.limit.run(() => this.client.batch(queries, { logged: false })),
    );
  }

  /** Lists the expiry slots of the batch that this store has not listed yet, so purges can find them. */
  private async registerSlots(placed: readonly Placed[]): Promise<void> {
    const slots = new Set<number>();
    for (const { message } of placed) {
      const slot = slotOf(message.expiresAt);
      if (!this.registeredSlots.has(slot)) slots.add(slot);
    }
    await mapAll([...slots], (slot) => this.execute(this.cql.writeSlot, [BigInt(slot), ttlSeconds(slot + SLOT_MS)]));
    for (const slot of slots) this.registeredSlots.add(slot);
  }

  /** Appends to `read` the unexpired messages of one bucket, after `from` when given, until it is full. */
  private async readBucket(
    streamId: string,
    bucket: number,
    from: CassandraPosition | null,
    read: PageCollector,
  ): Promise<void> {
    let seq = from === null ? null : BigInt(from.seq);
    let writer = from?.writer ?? 0;
    for (;;) {
      const want = read.wanted;
      const rows =
        seq === null
          ? (await this.execute(this.cql.readAll, [streamId, BigInt(bucket), want], want)).rows
          : (await this.execute(this.cql.readFrom, [streamId, BigInt(bucket), seq, writer, want], want)).rows;
      for (const row of rows) read.add(row, bucket);
      // Fewer rows than asked: the bucket is done. As many: read on if expired rows kept the page short.
      if (rows.length < want || read.full) return;
      const last = rows[rows.length - 1];
      seq = last.seq as bigint;
      writer = last.writer as number;
    }
  }

  private async dueExpirations(from: number, now: number, batchSize: number): Promise<DueExpiration[]> {
    const slots = (await this.execute(this.cql.slotsBetween, [BigInt(slotOf(from)), BigInt(slotOf(now))])).rows;
    const due: DueExpiration[] = [];
    for (const { slot } of slots) {
      const wanted = batchSize - due.length;
      const shards = await mapAll(
        Array.from({ length: SHARDS }, (_, shard) => shard),
        (shard) => this.execute(this.cql.dueExpirations, [slot, shard, BigInt(from), BigInt(now), wanted], wanted),
      );
      const entries = shards.flatMap((result, shard) =>
        result.rows.map((row) => ({
          slot: Number(slot),
          shard,
          expiresAt: row.expires_at as bigint,
          streamId: row.stream_id as string,
          bucket: row.bucket as bigint,
          seq: row.seq as bigint,
          writer: row.writer as number,
          uuid: row.message_uuid as Buffer,
          written: row.written as bigint,
        })),
      );
      entries.sort((a, b) => (a.expiresAt < b.expiresAt ? -1 : a.expiresAt > b.expiresAt ? 1 : 0));
      due.push(...entries.slice(0, wanted));
      if (due.length >= batchSize) break;
    }
    return due;
  }

  /** Deletes an expired message, its id record and its index entry, as written then (a later rewrite survives). */
  private deleteExpired(entry: DueExpiration): Promise<unknown> {
    const { written, streamId, bucket, seq, writer } = entry;
    return Promise.all([
      this.execute(this.cql.deleteMessage, [written, streamId, bucket, seq, writer]),
      this.execute(this.cql.deleteId, [written, streamId, entry.uuid]),
      this.execute(this.cql.deleteExpiration, [
        written,
        BigInt(entry.slot),
        entry.shard,
        entry.expiresAt,
        streamId,
        bucket,
        seq,
        writer,
      ]),
    ]);
  }

  /**
   * Once every message of a stream has expired, its head goes too, so its next message starts a new sequence
   * (readers holding old positions see a gap). Deleted as last written: an append racing the purge survives.
   */
  private async forgetStreamIfExpired(streamId: string, now: number): Promise<void> {
    const row = (await this.execute(this.cql.readStreamExpiry, [streamId])).first();
    if (row === null || row.expires_at === null || Number(row.expires_at) > now) return;
    await this.execute(this.cql.deleteStream, [row.written, streamId]);
  }

  private execute(query: string, params: unknown[], fetchSize?: number): Promise<types.ResultSet> {
    return this.limit.run(() =>
      this.client.execute(query, params, fetchSize === undefined ? undefined : { fetchSize, autoPage: false }),
    );
  }

  /** Write timestamp (microseconds) of one batch: every row of it carries the same one, rising batch to batch. */
  private nextWriteTime(): bigint {
    const now = BigInt(Date.now()) * 1000n;
    this.lastWriteTime = now > this.lastWriteTime ? now : this.lastWriteTime + 1n;
    return this.lastWriteTime;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreUnavailableError('message store closed');
  }
}

interface Statement {
  readonly query: string;
  readonly params: unknown[];
}

/** Statements grouped by the partition they write (null: a partition no other statement of the batch writes). */
class PartitionWrites {
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

/**
 * Gathers one read's messages across buckets: skips expired rows, notices holes in the sequence (a gap), and
 * remembers the last position returned.
 */
class PageCollector {
  private readonly messages: StoredMessage[] = [];
  private gap = false;

  constructor(
    private readonly limit: number,
    private readonly now: number,
    /** Sequence of the last message seen; null: reading from the oldest retained, nothing seen yet. */
    private seq: number | null,
  ) {}

  get full(): boolean {
    return this.messages.length >= this.limit;
  }

  get wanted(): number {
    return this.limit - this.messages.length;
  }

  add(row: types.Row, bucket: number): void {
    if (this.full || Number(row.expires_at) <= this.now) return;
    const seq = Number(row.seq);
    if (this.seq !== null && seq > this.seq + 1) this.gap = true;
    this.seq = seq;
    this.messages.push({
      messageUuid: (row.message_uuid as Buffer).toString('utf16le'),
      messageJson: row.payload as string,
      timestamp: Number(row.created_at),
      position: encodePosition(bucket, seq, row.writer as number),
    });
  }

  result(): ReadResult {
    if (this.messages.length === 0) return { messages: [], position: null, gap: false };
    return { messages: this.messages, position: this.messages[this.messages.length - 1].position, gap: this.gap };
  }
}

/** `work` for every item at once (the in-flight limit applies to each request underneath). */
function mapAll<I, T>(items: readonly I[], work: (item: I, index: number) => Promise<T>): Promise<T[]> {
  return Promise.all(items.map(work));
}

function ttlSeconds(expiresAt: number): number {
  const seconds = Math.ceil((Math.min(expiresAt, LAST_EXPIRY_MS) - Date.now()) / 1000);
  return Math.min(MAX_TTL_SECONDS, Math.max(MIN_TTL_SECONDS, seconds));
}

function slotOf(time: number): number {
  return Math.floor(time / SLOT_MS) * SLOT_MS;
}

/** FNV-1a of the stream id: spreads one slot's index entries over SHARDS partitions. */
function shardOf(streamId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < streamId.length; i++) hash = Math.imul(hash ^ streamId.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % SHARDS;
}
