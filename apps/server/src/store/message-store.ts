import { DomainError } from '../domain-error.js';

/**
 * The message store port: what the server needs from a database to keep stored streams. Adapters (the SQL
 * ones through TypeORM, Cassandra) implement it; nothing here assumes SQL, rows or transactions.
 *
 * A position is where a message sits in its stream, as opaque bytes the adapter defines (a sequence number,
 * a bucket plus clustering id, ...). The server wraps positions in signed resume tokens and hands them back
 * only to the adapter that made them.
 */
export type StorePosition = Buffer;

/** A message the owner of its stream has accepted, in the order the owner accepted it. */
export interface NewMessage {
  readonly streamId: string;
  readonly messageUuid: string;
  /** The message body as JSON text, stored and returned verbatim. */
  readonly messageJson: string;
  /** Epoch milliseconds, set by the owner on arrival. */
  readonly timestamp: number;
  /** Epoch milliseconds after which the message is never returned and may be purged. */
  readonly expiresAt: number;
}

/** What became of one appended message. */
export interface AppendResult {
  /** True when the stream already held this messageUuid; nothing new was stored. */
  readonly duplicate: boolean;
  /** The stored message's timestamp: the original one for a duplicate. */
  readonly timestamp: number;
}

export interface StoredMessage {
  readonly messageUuid: string;
  readonly messageJson: string;
  readonly timestamp: number;
  /** Where this message sits: reading after it continues with the next one (a live tail's per-event resume point). */
  readonly position: StorePosition;
}

export interface ReadResult {
  /** Unexpired messages after the position asked for, oldest first. */
  readonly messages: StoredMessage[];
  /** Position of the last message returned (its `position`); null when none was. */
  readonly position: StorePosition | null;
  /**
   * True when messages the reader had not seen were skipped because they expired or were purged: between the
   * position asked for and the first message returned, or between two returned messages.
   */
  readonly gap: boolean;
}

export interface MessageStore {
  /**
   * Stores a batch durably, keeping each stream's messages in batch order after those stored before.
   * A messageUuid the stream already holds (or that appears earlier in the batch) is a duplicate and stores
   * nothing. Resolves once every message is durable; one result per message, in batch order. Calls overlap
   * only when their batches have no stream in common, at most `appendConcurrency` at a time.
   */
  append(batch: readonly NewMessage[]): Promise<AppendResult[]>;

  /** How many appends of disjoint streams may run at once (default 1): more helps a database server. */
  readonly appendConcurrency?: number;

  /**
   * Up to `limit` messages of the stream after `after` (null: from the oldest retained) that have not expired
   * at `now` (epoch ms). Rejects with InvalidPositionError when `after` is not a position this adapter makes.
   */
  readAfter(streamId: string, after: StorePosition | null, limit: number, now: number): Promise<ReadResult>;

  /** Deletes up to `batchSize` messages expired at `now`; resolves to how many it deleted. */
  purgeExpired(now: number, batchSize: number): Promise<number>;

  /** Null when the store answers, else why not (for a person). Never rejects. */
  health(): Promise<string | null>;

  /** Finishes what is in flight and releases connections and files. */
  close(): Promise<void>;

  /**
   * Present on a node-local store (one per node, SQLite): how a stream's stored messages follow it to the node
   * that becomes its home in a cluster. A shared store has nothing to move.
   */
  readonly copies?: MessageCopies;
}

/** A stored message with its place in its stream: all another node needs to keep it under the same position. */
export interface HeldMessage extends NewMessage {
  /** The message's sequence in its stream: resume tokens name it, so a copy keeps it. */
  readonly seq: number;
}

/** Where a listing of held messages goes on: after this message. */
export interface HeldKey {
  readonly streamId: string;
  readonly seq: number;
}

/** Copies of stored messages between the files of a node-local store's nodes. */
export interface MessageCopies {
  /** Up to `limit` messages this store holds after `after` (null: from the first), by stream id, then sequence. */
  list(after: HeldKey | null, limit: number): Promise<HeldMessage[]>;
  /**
   * The high-water marks of those of these streams that have one: the last sequence the stream used, kept when
   * its newest messages expired so that the next message is not numbered as one of them (a reader's token may
   * point there).
   */
  marks(streamIds: readonly string[]): Promise<HeldKey[]>;
  /**
   * Keeps copies under their sequences, and raises marks to at least those given, in one transaction. A copy
   * whose position or messageUuid its stream already holds is skipped (the same message, copied before), so
   * copying twice changes nothing. Resolves to how many messages were new.
   */
  keep(messages: readonly HeldMessage[], marks: readonly HeldKey[]): Promise<number>;
}

/** A position whose bytes this adapter did not make (another store type's token, or an older format). */
export class InvalidPositionError extends Error {
  override readonly name = 'InvalidPositionError';
}

/** The store cannot be reached or failed; stored sends and reads answer 503 while it lasts. */
export class StoreUnavailableError extends DomainError {
  override readonly name = 'StoreUnavailableError';

  constructor(message: string) {
    super('STORE_UNAVAILABLE', message);
  }
}
