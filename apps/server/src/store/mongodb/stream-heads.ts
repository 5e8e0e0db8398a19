import {
  MongoBulkWriteError,
  type Collection,
  type Document,
  type OptionalUnlessRequiredId,
  type WriteError,
} from 'mongodb';

/** A stream's head: the last sequence handed out, which never goes down while the head exists. */
export interface HeadDocument {
  _id: string;
  q: number;
  /** Kept until this long after the stream's last message expires (HEAD_RETENTION_MS). */
  e: Date;
}

/** What a batch claims of one stream: `count` sequences, for messages expiring at the latest at `expiresAt`. */
export interface Claim {
  readonly count: number;
  readonly expiresAt: number;
}

const DUPLICATE_KEY = 11000;
/**
 * A stream whose head is gone starts its sequence from the clock, this many per millisecond, so a number is never
 * reused: a reader's old position is below the new messages. The head outlives the stream's last message by
 * HEAD_RETENTION_MS, so a node whose clock is that much behind still starts above it.
 */
const SEQUENCES_PER_MS = 1024;
const HEAD_RETENTION_MS = 3_600_000;
/** Streams whose head this store saw, so a claim on them skips the look-up; forgotten all at once when full. */
const KNOWN_HEADS = 100_000;

/**
 * Hands out each stream's sequence numbers from its head document in `streams`. An existing head is claimed on
 * with one atomic `$inc` per stream; the heads of new streams are created, already claimed on, with one
 * insertMany. A number is claimed before its message is written, so it is never handed out twice: not after the
 * stream's newest message expired or was deleted by a TTL index, nor after an insert failed half-way.
 */
export class StreamHeads {
  private readonly known = new Set<string>();

  constructor(private readonly heads: Collection<HeadDocument>) {}

  /** Claims every stream's sequences; resolves to the last one claimed of each. */
  async claim(claims: ReadonlyMap<string, Claim>): Promise<Map<string, number>> {
    const last = new Map<string, number>();
    let unknown = [...claims.keys()].filter((streamId) => !this.known.has(streamId));
    if (unknown.length > 0) {
      const existing = await this.heads.find({ _id: { $in: unknown } }, { projection: { _id: 1 } }).toArray();
      for (const { _id } of existing) this.remember(_id);
      unknown = unknown.filter((streamId) => !this.known.has(streamId));
    }
    for (let pending = [...claims.keys()]; pending.length > 0; ) {
      const created = await this.create(unknown, claims, last);
      const gone = await Promise.all(
        pending
          .filter((streamId) => !created.has(streamId))
          .map(async (streamId) => ((await this.increment(streamId, claims.get(streamId)!, last)) ? null : streamId)),
      );
      // Heads purged since they were looked up: create them.
      pending = unknown = gone.filter((streamId) => streamId !== null);
      for (const streamId of pending) this.known.delete(streamId);
    }
    return last;
  }

  /** Creates the heads of `streamIds`, each with its claim; resolves to those this call created. */
  private async create(
    streamIds: readonly string[],
    claims: ReadonlyMap<string, Claim>,
    last: Map<string, number>,
  ): Promise<Set<string>> {
    if (streamIds.length === 0) return new Set();
    const base = Date.now() * SEQUENCES_PER_MS - 1;
    const docs = streamIds.map((streamId) => {
      const claim = claims.get(streamId)!;
      return { _id: streamId, q: base + claim.count, e: retainUntil(claim) };
    });
    const created = new Set(streamIds);
    // Those created by another writer meanwhile are claimed on like any existing head.
    for (const index of await insertUnordered(this.heads, docs)) created.delete(streamIds[index]);
    for (const doc of docs) {
      this.remember(doc._id);
      if (created.has(doc._id)) last.set(doc._id, doc.q);
    }
    return created;
  }

  /** Claims on an existing head; false when it is gone. */
  private async increment(streamId: string, claim: Claim, last: Map<string, number>): Promise<boolean> {
    const head = await this.heads.findOneAndUpdate(
      { _id: streamId },
      { $inc: { q: claim.count }, $max: { e: retainUntil(claim) } },
      { returnDocument: 'after' },
    );
    if (head === null) return false;
    last.set(streamId, head.q);
    return true;
  }

  private remember(streamId: string): void {
    if (this.known.size >= KNOWN_HEADS) this.known.clear();
    this.known.add(streamId);
  }
}

function retainUntil(claim: Claim): Date {
  return new Date(claim.expiresAt + HEAD_RETENTION_MS);
}

/** Inserts with one unordered insertMany; resolves to the positions in `docs` refused as duplicate keys. */
export async function insertUnordered<T extends Document>(
  collection: Collection<T>,
  docs: OptionalUnlessRequiredId<T>[],
): Promise<Set<number>> {
  try {
    await collection.insertMany(docs, { ordered: false });
    return new Set();
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError)) throw err;
    // One error or an array of them, as the driver types it. WriteError is a type only: the driver's CommonJS entry
    // does not export it, so a value import of it stops the built server at start.
    const writeErrors = ([] as WriteError[]).concat(err.writeErrors);
    if (writeErrors.length === 0 || writeErrors.some((e) => e.code !== DUPLICATE_KEY)) throw err;
    return new Set(writeErrors.map((e) => e.index));
  }
}
