import type { types } from 'cassandra-driver';
import type { ReadResult, StoredMessage, StorePosition } from '../message-store.js';
import { decodePosition, encodePosition, type CassandraPosition } from './cassandra-position.js';
import type { CassandraSession } from './cassandra-session.js';

/** Bucket rows fetched at a time when a read walks a stream forward. */
const BUCKETS_PER_QUERY = 32;

/** Reads a stream forward from a position, bucket by bucket, skipping what has expired. */
export class CassandraReads {
  constructor(private readonly session: CassandraSession) {}

  async readAfter(streamId: string, after: StorePosition | null, limit: number, now: number): Promise<ReadResult> {
    const from = after === null ? null : decodePosition(after);
    const read = new PageCollector(limit, now, from?.seq ?? null);
    let bucket = from?.bucket ?? Number.MIN_SAFE_INTEGER;
    // The reader's bucket and the list of later ones are fetched together, so a reader at the end of its stream
    // (a long poll, the usual case) costs one round trip; a full page wastes one small read.
    let [later] = await Promise.all([
      this.session.execute(this.session.cql.bucketsFrom, [streamId, BigInt(bucket), BUCKETS_PER_QUERY]),
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
      later = await this.session.execute(this.session.cql.bucketsFrom, [streamId, BigInt(bucket), BUCKETS_PER_QUERY]);
    }
    return read.result();
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
          ? (await this.session.execute(this.session.cql.readAll, [streamId, BigInt(bucket), want], want)).rows
          : (await this.session.execute(this.session.cql.readFrom, [streamId, BigInt(bucket), seq, writer, want], want))
              .rows;
      for (const row of rows) read.add(row, bucket);
      // Fewer rows than asked: the bucket is done. As many: read on if expired rows kept the page short.
      if (rows.length < want || read.full) return;
      const last = rows[rows.length - 1];
      seq = last.seq as bigint;
      writer = last.writer as number;
    }
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
