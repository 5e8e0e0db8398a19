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
}

/**
 * Turns concurrent stored sends into few transactions: messages arriving while a batch is being committed
 * form the next batch, so the cost of a durable commit (an fsync) is shared by everyone waiting. One batch is
 * in flight at a time, which also keeps each stream's messages in the order this node accepted them.
 */
export class GroupCommit {
  private pending: PendingAppend[] = [];
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly store: MessageStore,
    /** Called with each committed batch's new messages, before their senders hear back. */
    private readonly onCommitted: (stored: readonly NewMessage[]) => void,
    private readonly limits: GroupCommitLimits = GROUP_COMMIT_LIMITS,
  ) {}

  /** Resolves once the message is durable (or found to be a duplicate); rejects if the store fails. */
  append(message: NewMessage): Promise<AppendResult> {
    if (this.pending.length >= this.limits.maxPending) {
      return Promise.reject(new StoreUnavailableError('message store overloaded: too many sends waiting for a commit'));
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.push({ message, resolve, reject });
      // setImmediate: let the requests already read in this turn of the event loop join the first batch.
      this.flushing ??= new Promise<void>((done) => setImmediate(() => void this.flush().finally(done)));
    });
  }

  /** Resolves when nothing is waiting or being committed. */
  async idle(): Promise<void> {
    while (this.flushing !== null) await this.flushing;
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) await this.commit(this.takeBatch());
    } finally {
      this.flushing = null;
    }
  }

  private takeBatch(): PendingAppend[] {
    let count = 0;
    let bytes = 0;
    while (count < this.pending.length && count < this.limits.maxBatchMessages) {
      bytes += this.pending[count].message.messageJson.length;
      if (count > 0 && bytes > this.limits.maxBatchBytes) break;
      count++;
    }
    if (count === this.pending.length) {
      const batch = this.pending;
      this.pending = [];
      return batch;
    }
    return this.pending.splice(0, count);
  }

  private async commit(batch: PendingAppend[]): Promise<void> {
    const messages = batch.map((pending) => pending.message);
    let results: AppendResult[];
    try {
      results = await this.store.append(messages);
    } catch (err) {
      for (const pending of batch) pending.reject(err);
      return;
    }
    this.onCommitted(messages.filter((_, i) => !results[i].duplicate));
    for (let i = 0; i < batch.length; i++) batch[i].resolve(results[i]);
  }
}
