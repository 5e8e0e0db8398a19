import { GROUP_COMMIT_LIMITS, GroupCommit } from './group-commit.js';
import {
  InvalidPositionError,
  type AppendResult,
  type MessageCopies,
  type MessageStore,
  type NewMessage,
  type ReadResult,
  type StoredMessage,
  type StorePosition,
} from './message-store.js';
import type { ResumeTokens } from './resume-token.js';
import type { ParkedRead, StoredReadWaiters, WaitOutcome } from './stored-read-waiters.js';

/** Messages per read while looking for the end of a stream. */
const END_SCAN_PAGE = 1000;

export interface StoredRead {
  readonly messages: StoredMessage[];
  /** Resume token after the last message returned. */
  readonly token: string;
  /** Messages after the reader's token expired or were purged before it read them. */
  readonly gap: boolean;
}

export type StoredReadOutcome = StoredRead | 'invalid_token' | 'too_many_waiters' | Exclude<WaitOutcome, 'stored'>;

/** Why a live tail ended: the reader left, the stream moved, the node stops, or it may not wait. */
export type FollowEnd = 'invalid_token' | 'too_many_waiters' | Exclude<WaitOutcome, 'stored' | 'timeout'>;

/** What a live tail yields: a page of new messages, or `idle` when none came for the idle time. */
export type FollowStep = ReadResult | 'idle';

/**
 * Stored streams on the node that owns them: sends go through the group commit, reads start where the reader's
 * token points and, at the end of the stream, wait to be woken by the next commit. Store failures reject
 * (the caller answers 503); everything a client did wrong is an outcome.
 */
export class StoredStreams {
  private readonly commits: GroupCommit;
  /**
   * Reads in flight by stream, position and limit. Live tails of one stream wake together on a commit and ask
   * for the same page: they share one read, and so one result object (which the api layer renders once).
   */
  private readonly sharedReads = new Map<string, Promise<ReadResult>>();

  constructor(
    private readonly store: MessageStore,
    private readonly tokens: ResumeTokens,
    private readonly waiters: StoredReadWaiters,
  ) {
    this.commits = new GroupCommit(
      store,
      (stored) => this.wakeReaders(stored),
      GROUP_COMMIT_LIMITS,
      store.appendConcurrency,
    );
  }

  /** Resolves once the message is durable (or known already). `message` is any JSON value. */
  send(
    streamId: string,
    messageUuid: string,
    message: unknown,
    ttlSeconds: number,
    receivedAt: number,
  ): Promise<AppendResult> {
    return this.commits.append({
      streamId,
      messageUuid,
      messageJson: JSON.stringify(message),
      timestamp: receivedAt,
      // A TTL beyond what a timestamp can express means "keep it".
      expiresAt: Math.min(receivedAt + ttlSeconds * 1000, Number.MAX_SAFE_INTEGER),
    });
  }

  /**
   * Up to `maxMessages` unexpired messages after the token (none: from the oldest retained), waiting up to
   * `timeoutMs` for one to be stored when there are none.
   */
  async read(
    streamId: string,
    token: string | undefined,
    maxMessages: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<StoredReadOutcome> {
    let after: StorePosition | null = null;
    if (token !== undefined) {
      after = this.tokens.open(streamId, token);
      if (after === null) return 'invalid_token';
    }
    const deadline = Date.now() + timeoutMs;
    let result = await this.readAfter(streamId, after, maxMessages);
    while (result !== 'invalid_token' && result.messages.length === 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return 'timeout';
      const parking = await this.parkThenRead(streamId, () => this.readAfter(streamId, after, maxMessages));
      if (typeof parking === 'string') return parking;
      result = parking.result;
      if (parking.parked === null) break;
      const outcome = await parking.parked.wait(remaining, signal);
      if (outcome !== 'stored') return outcome;
      result = await this.readAfter(streamId, after, maxMessages);
    }
    if (result === 'invalid_token') return result;
    return { messages: result.messages, token: this.tokens.issue(streamId, result.position!), gap: result.gap };
  }

  /**
   * A live tail: pages of messages after `after` (null: from the oldest retained) as they are stored, then
   * waits for more; `idle` after `idleMs` without any. Ends when the reader aborts, the stream moves to another
   * node, or the node stops. Positions are the store's: a caller resumes from `messages[i].position`.
   */
  async *follow(
    streamId: string,
    after: StorePosition | null,
    limit: number,
    idleMs: number,
    signal: AbortSignal,
  ): AsyncGenerator<FollowStep, FollowEnd> {
    for (;;) {
      if (signal.aborted) return 'aborted';
      let page = await this.sharedRead(streamId, after, limit);
      if (page === 'invalid_token') return page;
      if (page.messages.length === 0) {
        const parking = await this.parkThenRead(streamId, () => this.sharedRead(streamId, after, limit));
        if (typeof parking === 'string') return parking;
        if (parking.parked !== null) {
          const outcome = await parking.parked.wait(idleMs, signal);
          if (outcome === 'timeout') yield 'idle';
          else if (outcome !== 'stored') return outcome;
          continue;
        }
        page = parking.result;
        if (page === 'invalid_token') return page;
      }
      after = page.position;
      yield page;
    }
  }

  /**
   * Where a tail that starts now begins: after the newest retained message (null: none). Found by reading the
   * stream through, a page at a time, since the port keeps no per-stream head.
   */
  async endPosition(streamId: string): Promise<StorePosition | null> {
    let end: StorePosition | null = null;
    for (;;) {
      const page = await this.store.readAfter(streamId, end, END_SCAN_PAGE, Date.now());
      if (page.position === null) return end;
      end = page.position;
    }
  }

  /** The position a resume token of this stream points at; null when the token is not valid for it. */
  openToken(streamId: string, token: string): StorePosition | null {
    return this.tokens.open(streamId, token);
  }

  issueToken(streamId: string, position: StorePosition): string {
    return this.tokens.issue(streamId, position);
  }

  /** A node-local store's copies, which a cluster moves with each stream's home; undefined for a shared store. */
  get copies(): MessageCopies | undefined {
    return this.store.copies;
  }

  get waitingReaders(): number {
    return this.waiters.size;
  }

  /**
   * In a cluster, when streams stop being this node's (another node joined, or this one leaves): their waiting
   * readers, and any about to wait, are answered `moved` instead of waiting for writes that now happen
   * elsewhere. `movedAway` should read the current ownership (see StoredReadWaiters.moved).
   */
  releaseMovedReaders(movedAway: (streamId: string) => boolean): number {
    return this.waiters.moved(movedAway);
  }

  /** Answers every waiting reader (shutdown); sends already accepted still complete. */
  stopWaiting(): void {
    this.waiters.close();
  }

  /** Resolves when every accepted send has been committed or failed. */
  idle(): Promise<void> {
    return this.commits.idle();
  }

  /** Resolves once every send accepted before this call has been committed or failed; later ones are not awaited. */
  settled(): Promise<void> {
    return this.commits.settled();
  }

  private async readAfter(
    streamId: string,
    after: StorePosition | null,
    limit: number,
  ): Promise<ReadResult | 'invalid_token'> {
    try {
      return await this.store.readAfter(streamId, after, limit, Date.now());
    } catch (err) {
      // A well-signed position this store cannot read: a token of another store type.
      if (err instanceof InvalidPositionError) return 'invalid_token';
      throw err;
    }
  }

  /**
   * Parks a reader on the stream, then reads: a message stored after this read wakes the reader, one stored
   * before is found. The reader stays parked (`parked`) only when the read found nothing.
   */
  private async parkThenRead(
    streamId: string,
    read: () => Promise<ReadResult | 'invalid_token'>,
  ): Promise<
    { result: ReadResult | 'invalid_token'; parked: ParkedRead | null } | 'too_many_waiters' | 'shutting_down' | 'moved'
  > {
    const parked = this.waiters.park(streamId);
    if (typeof parked === 'string') return parked;
    let result;
    try {
      result = await read();
    } catch (err) {
      parked.leave();
      throw err;
    }
    if (result !== 'invalid_token' && result.messages.length === 0) return { result, parked };
    parked.leave();
    return { result, parked: null };
  }

  private sharedRead(
    streamId: string,
    after: StorePosition | null,
    limit: number,
  ): Promise<ReadResult | 'invalid_token'> {
    const key = `${limit}:${after === null ? '' : after.toString('base64')}:${streamId}`;
    let read = this.sharedReads.get(key);
    if (read === undefined) {
      read = this.store.readAfter(streamId, after, limit, Date.now());
      this.sharedReads.set(key, read);
      const forget = (): boolean => this.sharedReads.delete(key);
      read.then(forget, forget);
    }
    return read.catch((err: unknown) => {
      if (err instanceof InvalidPositionError) return 'invalid_token' as const;
      throw err;
    });
  }

  private wakeReaders(stored: readonly NewMessage[]): void {
    if (this.waiters.size === 0) return;
    for (const message of stored) this.waiters.notify(message.streamId);
  }
}
