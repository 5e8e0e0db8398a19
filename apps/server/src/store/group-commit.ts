import { StoreUnavailableError, type AppendResult, type MessageStore, type NewMessage } from './message-store.js';

export interface GroupCommitLimits {
  /** Messages per store transaction. */
  readonly maxBatchMessages: number;
  /** Bytes of message bodies per transaction (a batch always takes at least one message). */
  readonly maxBatchBytes: number;
  /** Messages waiting for a transaction; beyond it sends are refused rather than queued without end. */
  readonly maxPending: number;
}

export const GROUP_COMMIT_LIMITS: GroupCommitLimits = {
  maxBatchMessages: 1000,
  maxBatchBytes: 4 * 1024 * 1024,
  maxPending: 100_000,
};

interface PendingAppend {
  readonly message: NewMessage;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (err: unknown) => void;
  /** Callers of `settled()` waiting for this message among others. */
  barriers?: Barrier[];
}

/** A `settled()` call: how many of the messages it waits for are still pending or in flight. */
interface Barrier {
  left: number;
  readonly done: () => void;
}

/**
 * Turns concurrent stored sends into few transactions: messages arriving while batches are being committed
 * form the next batch, so the cost of a durable commit (an fsync) is shared by everyone waiting.
 *
 * Up to `concurrency` batches are in flight at once, but never two with a stream in common: a stream's messages
 * wait for its batch in flight, so each stream is stored in the order this node accepted its messages (and a
 * retried messageUuid is checked against the committed original).
 */
export class GroupCommit {
  private pending: PendingAppend[] = [];
  private readonly batchesInFlight = new Set<PendingAppend[]>();
  /** Streams with a batch in flight. */
  private readonly busyStreams = new Set<string>();
  private inFlight = 0;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly store: MessageStore,
    /** Called with each committed batch's new messages, before their senders hear back. */
    private readonly onCommitted: (stored: readonly NewMessage[]) => void,
    private readonly limits: GroupCommitLimits = GROUP_COMMIT_LIMITS,
    private readonly concurrency = 1,
  ) {}

  /** Resolves once the message is durable (or found to be a duplicate); rejects if the store fails. */
  append(message: NewMessage): Promise<AppendResult> {
    if (this.pending.length >= this.limits.maxPending) {
      return Promise.reject(new StoreUnavailableError('message store overloaded: too many sends waiting for a commit'));
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.push({ message, resolve, reject });
      if (this.scheduled || this.inFlight >= this.concurrency) return;
      // setImmediate: let the requests already read in this turn of the event loop join the batch.
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.launch();
      });
    });
  }

  /**
   * Resolves once every message accepted before this call has been committed or failed; unlike `idle()`, later
   * sends do not hold it up, so it ends under steady load too.
   */
  settled(): Promise<void> {
    const waiting = [...this.pending];
    for (const batch of this.batchesInFlight) waiting.push(...batch);
    if (waiting.length === 0) return Promise.resolve();
    return new Promise((done) => {
      const barrier: Barrier = { left: waiting.length, done };
      for (const pending of waiting) (pending.barriers ??= []).push(barrier);
    });
  }

  /** Resolves when nothing is waiting or being committed. */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private launch(): void {
    while (this.inFlight < this.concurrency && this.pending.length > 0) {
      const batch = this.takeBatch();
      if (batch.length === 0) return; // every waiting stream has a batch in flight
      this.inFlight++;
      this.batchesInFlight.add(batch);
      void this.commit(batch);
    }
    if (this.inFlight === 0 && this.pending.length === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  /** The longest batch within the limits, in arrival order, of streams without a batch in flight. */
  private takeBatch(): PendingAppend[] {
    const batch: PendingAppend[] = [];
    const left: PendingAppend[] = [];
    let bytes = 0;
    let full = false;
    for (const pending of this.pending) {
      const { streamId, messageJson } = pending.message;
      if (!full && !this.busyStreams.has(streamId)) {
        full =
          batch.length === this.limits.maxBatchMessages ||
          (batch.length > 0 && bytes + messageJson.length > this.limits.maxBatchBytes);
      }
      if (full || this.busyStreams.has(streamId)) {
        left.push(pending);
        continue;
      }
      batch.push(pending);
      bytes += messageJson.length;
    }
    this.pending = left;
    for (const pending of batch) this.busyStreams.add(pending.message.streamId);
    return batch;
  }

  private async commit(batch: PendingAppend[]): Promise<void> {
    const messages = batch.map((pending) => pending.message);
    let results: AppendResult[] | undefined;
    let failure: unknown;
    try {
      results = await this.store.append(messages);
    } catch (err) {
      failure = err;
    }
    for (const message of messages) this.busyStreams.delete(message.streamId);
    this.inFlight--;
    this.batchesInFlight.delete(batch);
    if (results === undefined) {
      for (const pending of batch) pending.reject(failure);
    } else {
      this.onCommitted(messages.filter((_, i) => !results[i].duplicate));
      for (let i = 0; i < batch.length; i++) batch[i].resolve(results[i]);
    }
    for (const pending of batch) {
      if (pending.barriers === undefined) continue;
      for (const barrier of pending.barriers) if (--barrier.left === 0) barrier.done();
    }
    this.launch();
  }
}
