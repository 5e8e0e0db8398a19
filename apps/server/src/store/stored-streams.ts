import { GROUP_COMMIT_LIMITS, GroupCommit } from './group-commit.js';
import {
  InvalidPositionError,
  type AppendResult,
  type MessageStore,
  type NewMessage,
  type ReadResult,
  type StoredMessage,
  type StorePosition,
} from './message-store.js';
import type { ResumeTokens } from './resume-token.js';
import type { StoredReadWaiters, WaitOutcome } from './stored-read-waiters.js';

export interface StoredRead {
  readonly messages: StoredMessage[];
  /** Resume token after the last message returned. */
  readonly token: string;
  /** Messages after the reader's token expired or were purged before it read them. */
  readonly gap: boolean;
}

export type StoredReadOutcome = StoredRead | 'invalid_token' | 'too_many_waiters' | Exclude<WaitOutcome, 'stored'>;

/**
 * Stored streams on the node that owns them: sends go through the group commit, reads start where the reader's
 * token points and, at the end of the stream, wait to be woken by the next commit. Store failures reject
 * (the caller answers 503); everything a client did wrong is an outcome.
 */
export class StoredStreams {
  private readonly commits: GroupCommit;

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
      const parked = this.waiters.park(streamId);
      if (typeof parked === 'string') return parked;
      // Parked first, then read: a message stored after this read wakes the reader, one stored before is found.
      try {
        result = await this.readAfter(streamId, after, maxMessages);
      } catch (err) {
        parked.leave();
        throw err;
      }
      if (result === 'invalid_token' || result.messages.length > 0) {
        parked.leave();
        break;
      }
      const outcome = await parked.wait(remaining, signal);
      if (outcome !== 'stored') return outcome;
      result = await this.readAfter(streamId, after, maxMessages);
    }
    if (result === 'invalid_token') return result;
    return { messages: result.messages, token: this.tokens.issue(streamId, result.position!), gap: result.gap };
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

  private wakeReaders(stored: readonly NewMessage[]): void {
    if (this.waiters.size === 0) return;
    for (const message of stored) this.waiters.notify(message.streamId);
  }
}
