import { CassandraSession, mapAll } from './cassandra-session.js';

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

/** The TTL of a row that must live until `expiresAt` (epoch ms). */
export function ttlSeconds(expiresAt: number): number {
  const seconds = Math.ceil((Math.min(expiresAt, LAST_EXPIRY_MS) - Date.now()) / 1000);
  return Math.min(MAX_TTL_SECONDS, Math.max(MIN_TTL_SECONDS, seconds));
}

/** The `expirations` partition (slot, shard) that indexes a message of `streamId` expiring at `expiresAt`. */
export function expirationPartition(expiresAt: number, streamId: string): [slot: number, shard: number] {
  return [slotOf(expiresAt), shardOf(streamId)];
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
 * The purge: every message has an entry in `expirations` (by minute slot and shard), and the slots in use are
 * listed in `expiration_slots`, so a purge walks only the slots due since the last one.
 */
export class ExpiryIndex {
  /** Expiry slots this store has registered in `expiration_slots`. */
  private readonly registeredSlots = new Set<number>();
  /** Every expiration at or before this was purged here or expired natively; the next purge starts after it. */
  private purgedUntil = Date.now() - MIN_TTL_SECONDS * 1000;

  constructor(private readonly session: CassandraSession) {}

  /** Lists the expiry slots of these times that this store has not listed yet, so purges can find them. */
  async registerSlots(expiries: Iterable<number>): Promise<void> {
    const slots = new Set<number>();
    for (const expiresAt of expiries) {
      const slot = slotOf(expiresAt);
      if (!this.registeredSlots.has(slot)) slots.add(slot);
    }
    const { session } = this;
    await mapAll([...slots], (slot) =>
      session.execute(session.cql.writeSlot, [BigInt(slot), ttlSeconds(slot + SLOT_MS)]),
    );
    for (const slot of slots) this.registeredSlots.add(slot);
  }

  async purgeExpired(now: number, batchSize: number): Promise<number> {
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

  private async dueExpirations(from: number, now: number, batchSize: number): Promise<DueExpiration[]> {
    const slots = (
      await this.session.execute(this.session.cql.slotsBetween, [BigInt(slotOf(from)), BigInt(slotOf(now))])
    ).rows;
    const due: DueExpiration[] = [];
    for (const { slot } of slots) {
      const wanted = batchSize - due.length;
      const shards = await mapAll(
        Array.from({ length: SHARDS }, (_, shard) => shard),
        (shard) =>
          this.session.execute(
            this.session.cql.dueExpirations,
            [slot, shard, BigInt(from), BigInt(now), wanted],
            wanted,
          ),
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
      this.session.execute(this.session.cql.deleteMessage, [written, streamId, bucket, seq, writer]),
      this.session.execute(this.session.cql.deleteId, [written, streamId, entry.uuid]),
      this.session.execute(this.session.cql.deleteExpiration, [
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
    const row = (await this.session.execute(this.session.cql.readStreamExpiry, [streamId])).first();
    if (row === null || row.expires_at === null || Number(row.expires_at) > now) return;
    await this.session.execute(this.session.cql.deleteStream, [row.written, streamId]);
  }
}
