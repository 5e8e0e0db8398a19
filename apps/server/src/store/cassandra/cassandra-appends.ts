import { randomInt } from 'node:crypto';
import type { AppendResult, NewMessage } from '../message-store.js';
import { expirationPartition, ttlSeconds, type ExpiryIndex } from './cassandra-expiry.js';
import { mapAll, PartitionWrites, type CassandraSession } from './cassandra-session.js';
import type { CassandraSettings } from './cassandra-settings.js';

/**
 * A new stream (or one whose every message expired) starts its sequence from the clock, this many per
 * millisecond, so a sequence is never reused: a reader's old position is always before the new messages.
 */
const SEQUENCES_PER_MS = 1024;

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

/**
 * Stores batches of messages. Sequence numbers are per stream and contiguous (a hole is a message that expired or
 * was purged), claimed in the `streams` head before the messages are written: a batch that fails half-way leaves
 * a hole, never a reused number. Idempotency reads `message_ids` before writing (no lightweight transaction):
 * the stream's owner is its only writer, and the group commit never has two batches of one stream in flight.
 */
export class CassandraAppends {
  /** Tells apart two nodes that write the same stream at once (an ownership change) so neither overwrites. */
  private readonly writer = randomInt(-0x8000_0000, 0x7fff_ffff);
  private lastWriteTime = 0n;

  constructor(
    private readonly session: CassandraSession,
    private readonly settings: CassandraSettings,
    private readonly expiry: ExpiryIndex,
  ) {}

  async append(batch: readonly NewMessage[]): Promise<AppendResult[]> {
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
    await this.session.send(claims);
    // A stream's later bucket is written only once its earlier one is: a reader never sees a message before
    // the ones it follows (a batch crosses a bucket boundary once an hour or every bucketMessages at most).
    const waves = [new PartitionWrites()];
    for (const entry of placed) {
      while (waves.length <= entry.wave) waves.push(new PartitionWrites());
      this.writeMessage(waves[0], waves[entry.wave], entry, writeTime);
    }
    await Promise.all([
      this.session.send(waves[0]),
      this.expiry.registerSlots(placed.map(({ message }) => message.expiresAt)),
    ]);
    for (const wave of waves.slice(1)) await this.session.send(wave);
    return results;
  }

  private async readHead(streamId: string): Promise<StreamHead | null> {
    const row = (await this.session.execute(this.session.cql.readHead, [streamId])).first();
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
    const id = (await this.session.execute(this.session.cql.readId, [streamId, uuid])).first();
    if (id === null) return null;
    const message = (
      await this.session.execute(this.session.cql.readUuidAt, [streamId, id.bucket, id.seq, id.writer])
    ).first();
    return message !== null && uuid.equals(message.message_uuid as Buffer) ? Number(id.created_at) : null;
  }

  private writeHead(writes: PartitionWrites, streamId: string, stream: StreamAppend, writeTime: bigint): void {
    const partition = `streams ${streamId}`;
    writes.add(partition, this.session.cql.writeHead, [
      ttlSeconds(stream.expiresAt),
      writeTime,
      BigInt(stream.lastSeq),
      BigInt(stream.expiresAt),
      streamId,
    ]);
    for (const [bucket, [messages, expiresAt]] of stream.buckets) {
      writes.add(partition, this.session.cql.writeBucket, [
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
    messages.add(`messages ${streamId} ${bucket}`, this.session.cql.writeMessage, [
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
    records.add(null, this.session.cql.writeId, [
      streamId,
      uuid,
      bucketKey,
      seqKey,
      this.writer,
      createdAt,
      ttl,
      writeTime,
    ]);
    const [slot, shard] = expirationPartition(message.expiresAt, streamId);
    records.add(`expirations ${slot} ${shard}`, this.session.cql.writeExpiration, [
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

  /** Write timestamp (microseconds) of one batch: every row of it carries the same one, rising batch to batch. */
  private nextWriteTime(): bigint {
    const now = BigInt(Date.now()) * 1000n;
    this.lastWriteTime = now > this.lastWriteTime ? now : this.lastWriteTime + 1n;
    return this.lastWriteTime;
  }
}
