import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient, MongoServerError, type Collection, type Db, type Filter } from 'mongodb';
import {
  InvalidPositionError,
  StoreUnavailableError,
  type AppendResult,
  type MessageStore,
  type NewMessage,
  type ReadResult,
  type StoredMessage,
  type StorePosition,
} from '../message-store.js';
import { clientOptions, databaseName, redactMongoUrl } from './mongodb-settings.js';
import { StreamHeads, insertUnordered, type Claim, type HeadDocument } from './stream-heads.js';

/** One stored message. Short field names: every document carries them. */
interface MessageDocument {
  /** The (stream, messageUuid) key: unique, and looked up by every compatible server directly (messageKey). */
  _id: string;
  /** stream id */
  s: string;
  /** sequence in the stream, assigned from the stream's head */
  q: number;
  /** arrival timestamp, epoch ms */
  t: number;
  /** expiry: a Date, so that a TTL index can use it */
  e: Date;
  /** body as JSON text */
  p: string;
}

export const MESSAGES_COLLECTION = 'messages';
export const HEADS_COLLECTION = 'streams';
const NOT_IMPLEMENTED = 238;
/** An index of that name exists with other options (a TTL index the server has, or had, not). */
const INDEX_CONFLICTS = [85, 86];
/** Group commits of disjoint streams in flight at once: each waits on a few round trips, not on a disk. */
const APPEND_CONCURRENCY = 4;
/** Attempts of a stream's part of a batch that collided with another writer (an ownership change). */
const APPEND_ATTEMPTS = 10;
/** First byte of every MongoDB position, so another adapter's bytes of the same length are refused too. */
const POSITION_FORMAT = 0x6d;
const POSITION_LENGTH = 9;

/**
 * The message store on MongoDB, or any server speaking its wire protocol, through the official driver. See
 * docs/operations/mongodb.md. One document per message, its `_id` the (stream, messageUuid) key, unique on
 * (stream, sequence) too; no multi-document transaction (not every compatible server has them): each write is
 * idempotent or checked.
 *
 * A batch claims each stream's sequences on its head (one atomic `$inc`) before inserting the messages with one
 * unordered insertMany, so a number is never handed out twice even when a newer message was purged or the insert
 * failed half-way. A server whose `$inc` is not atomic (FerretDB) may hand one range to two writers at an
 * ownership change: the (stream, sequence) index refuses the second, which claims again.
 */
export class MongoMessageStore implements MessageStore {
  readonly appendConcurrency = APPEND_CONCURRENCY;
  private closed = false;
  private readonly messages: Collection<MessageDocument>;
  private readonly heads: Collection<HeadDocument>;
  private readonly sequences: StreamHeads;

  private constructor(
    private readonly client: MongoClient,
    db: Db,
  ) {
    this.messages = db.collection<MessageDocument>(MESSAGES_COLLECTION);
    this.heads = db.collection<HeadDocument>(HEADS_COLLECTION);
    this.sequences = new StreamHeads(this.heads);
  }

  /** Connects and creates the indexes if missing; rejects with StoreUnavailableError saying why not. */
  static async open(url: string): Promise<MongoMessageStore> {
    let client: MongoClient | undefined;
    try {
      client = new MongoClient(url, clientOptions(url));
      await client.connect();
      const db = client.db(databaseName(url));
      await createIndexes(db);
      return new MongoMessageStore(client, db);
    } catch (err) {
      await client?.close().catch(() => undefined);
      throw new StoreUnavailableError(
        `cannot open the mongodb message store at ${redactMongoUrl(url)}: ${(err as Error).message}`,
      );
    }
  }

  async append(batch: readonly NewMessage[]): Promise<AppendResult[]> {
    const results = new Array<AppendResult>(batch.length);
    let pending = batch.map((_, i) => i);
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 1) await sleep(Math.random() * attempt);
      pending = await this.appendOnce(batch, pending, results, attempt === APPEND_ATTEMPTS);
    }
    return results;
  }

  async readAfter(streamId: string, after: StorePosition | null, limit: number, now: number): Promise<ReadResult> {
    const afterSeq = after === null ? null : decodePosition(after);
    const filter = afterSeq === null ? { s: streamId } : { s: streamId, q: { $gt: afterSeq } };
    const docs = await this.messages
      .find({ ...filter, e: { $gt: new Date(now) } }, { projection: { q: 1, t: 1, p: 1 } })
      .sort({ q: 1 })
      .limit(limit)
      .toArray();
    const messages = new Array<StoredMessage>(docs.length);
    let gap = false;
    let expected = afterSeq === null ? null : afterSeq + 1;
    for (let i = 0; i < docs.length; i++) {
      const doc = docs[i];
      if (expected !== null && doc.q !== expected) gap = true;
      expected = doc.q + 1;
      messages[i] = {
        messageUuid: uuidOf(doc._id),
        messageJson: doc.p,
        timestamp: doc.t,
        position: encodePosition(doc.q),
      };
    }
    return { messages, position: docs.length === 0 ? null : messages[docs.length - 1].position, gap };
  }

  /**
   * Deletes up to `batchSize` expired messages (found first, then deleted by id: deleteMany has no limit). Once
   * none are left, forgets the heads whose retention is over, as many at a time.
   */
  async purgeExpired(now: number, batchSize: number): Promise<number> {
    const purged = await deleteExpired(this.messages, now, batchSize);
    if (purged < batchSize) while ((await deleteExpired(this.heads, now, batchSize)) === batchSize);
    return purged;
  }

  async health(): Promise<string | null> {
    if (this.closed) return 'message store closed';
    try {
      // A point read of our own collection (by _id: every compatible server looks that up directly).
      await this.heads.findOne({ _id: ' health' }, { projection: { _id: 1 } });
      return null;
    } catch (err) {
      return `mongodb message store unreachable: ${(err as Error).message}`;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close();
  }

  /**
   * Stores the messages of `batch` at `indexes`, filling in their results. Returns the indexes of the messages to
   * try again: those of streams whose claimed sequences another writer took first.
   */
  private async appendOnce(
    batch: readonly NewMessage[],
    indexes: readonly number[],
    results: AppendResult[],
    lastAttempt: boolean,
  ): Promise<number[]> {
    const keys = new Map<number, string>(indexes.map((i) => [i, messageKey(batch[i])]));
    const stored = await this.storedTimestamps([...keys.values()]);
    // Duplicates of stored messages and of earlier ones in the batch; the rest, by stream, in batch order.
    const fresh = new Map<string, number[]>();
    for (const i of indexes) {
      const message = batch[i];
      const key = keys.get(i)!;
      const original = stored.get(key);
      if (original !== undefined) {
        results[i] = { duplicate: true, timestamp: original };
        continue;
      }
      stored.set(key, message.timestamp);
      results[i] = { duplicate: false, timestamp: message.timestamp };
      const stream = fresh.get(message.streamId);
      if (stream === undefined) fresh.set(message.streamId, [i]);
      else stream.push(i);
    }
    if (fresh.size === 0) return [];

    const claims = new Map<string, Claim>();
    for (const [streamId, members] of fresh)
      claims.set(streamId, { count: members.length, expiresAt: Math.max(...members.map((i) => batch[i].expiresAt)) });
    const last = await this.sequences.claim(claims);
    const docs: MessageDocument[] = [];
    const docIndexes: number[] = [];
    for (const [streamId, members] of fresh) {
      const first = last.get(streamId)! - members.length + 1;
      members.forEach((i, n) => {
        const message = batch[i];
        docIndexes.push(i);
        docs.push({
          _id: keys.get(i)!,
          s: streamId,
          q: first + n,
          t: message.timestamp,
          e: new Date(message.expiresAt),
          p: message.messageJson,
        });
      });
    }
    const refused = await insertUnordered(this.messages, docs);
    if (refused.size === 0) return [];
    return this.settleRefused(batch, docs, docIndexes, refused, results, lastAttempt);
  }

  /**
   * Sorts out the documents the insert refused as duplicate keys: a messageUuid stored meanwhile by another
   * writer is a duplicate; a sequence another writer took sends the stream's messages round again, after removing
   * the ones of this attempt that did go in (they would stand before the retried ones out of order).
   */
  private async settleRefused(
    batch: readonly NewMessage[],
    docs: readonly MessageDocument[],
    docIndexes: readonly number[],
    refused: ReadonlySet<number>,
    results: AppendResult[],
    lastAttempt: boolean,
  ): Promise<number[]> {
    const originals = await this.storedTimestamps([...refused].map((d) => docs[d]._id));
    const collided = new Set<string>();
    for (const d of refused) {
      const original = originals.get(docs[d]._id);
      if (original !== undefined) results[docIndexes[d]] = { duplicate: true, timestamp: original };
      else collided.add(docs[d].s);
    }
    if (collided.size === 0) return [];
    if (lastAttempt) throw new StoreUnavailableError('message store busy: another node keeps writing the same streams');
    const retry: number[] = [];
    const undo: string[] = [];
    docs.forEach((doc, d) => {
      if (!collided.has(doc.s) || results[docIndexes[d]].duplicate) return;
      retry.push(docIndexes[d]);
      if (!refused.has(d)) undo.push(doc._id);
    });
    if (undo.length > 0) await this.messages.deleteMany({ _id: { $in: undo } });
    return retry.sort((a, b) => a - b);
  }

  /** Message key → timestamp of those of `keys` that are stored. */
  private async storedTimestamps(keys: readonly string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    if (keys.length === 0) return found;
    const docs = await this.messages.find({ _id: { $in: [...keys] } }, { projection: { t: 1 } }).toArray();
    for (const doc of docs) found.set(doc._id, doc.t);
    return found;
  }
}

/**
 * A message's `_id`: its stream and messageUuid as a JSON array, which keeps the two apart whatever they hold, with
 * lone surrogates escaped (JSON.stringify does), so that every id survives BSON's UTF-8 and compares exactly.
 */
function messageKey(message: NewMessage): string {
  return JSON.stringify([message.streamId, message.messageUuid]);
}

function uuidOf(key: string): string {
  return (JSON.parse(key) as [string, string])[1];
}

/** The collections' indexes; a TTL index on the expiry where the server has them, a plain one where not. */
async function createIndexes(db: Db): Promise<void> {
  const messages = db.collection(MESSAGES_COLLECTION);
  // One at a time: FerretDB 1.24 drops the connection when one createIndexes command names several existing ones.
  await messages.createIndex({ s: 1, q: 1 }, { name: 'stream_seq', unique: true });
  await Promise.all([expiryIndex(messages), expiryIndex(db.collection(HEADS_COLLECTION))]);
}

/** Resolves to whether the collection's expiry index is a TTL index (the server deletes expired documents). */
export async function expiryIndex(collection: Collection): Promise<boolean> {
  try {
    await collection.createIndex({ e: 1 }, { name: 'expire', expireAfterSeconds: 0 });
    return true;
  } catch (err) {
    const code = (err as MongoServerError).code;
    if (typeof code === 'number' && INDEX_CONFLICTS.includes(code)) return false;
    if (code !== NOT_IMPLEMENTED) throw err;
  }
  // The purge job deletes them instead: it needs the index as much.
  await collection.createIndex({ e: 1 }, { name: 'expire' });
  return false;
}

/** Deletes up to `limit` documents expired at `now`; resolves to how many it deleted. */
async function deleteExpired<T extends { _id?: unknown; e: Date }>(
  collection: Collection<T>,
  now: number,
  limit: number,
): Promise<number> {
  const expired = { e: { $lte: new Date(now) } } as Filter<T>;
  const found = await collection
    .find(expired, { projection: { _id: 1 } })
    .limit(limit)
    .toArray();
  if (found.length === 0) return 0;
  const { deletedCount } = await collection.deleteMany({ ...expired, _id: { $in: found.map((doc) => doc._id) } });
  return deletedCount;
}

function encodePosition(seq: number): StorePosition {
  const bytes = Buffer.allocUnsafe(POSITION_LENGTH);
  bytes[0] = POSITION_FORMAT;
  bytes.writeBigInt64BE(BigInt(seq), 1);
  return bytes;
}

function decodePosition(bytes: StorePosition): number {
  if (bytes.length !== POSITION_LENGTH || bytes[0] !== POSITION_FORMAT)
    throw new InvalidPositionError('not a MongoDB store position');
  const seq = Number(bytes.readBigInt64BE(1));
  if (!Number.isSafeInteger(seq)) throw new InvalidPositionError('not a MongoDB store position');
  return seq;
}
