/** `moved`: the stream is no longer this node's (cluster ownership moved); its new owner wakes readers now. */
export type WaitOutcome = 'stored' | 'timeout' | 'aborted' | 'shutting_down' | 'moved';

export interface WaiterLimits {
  readonly maxWaitersPerStream: number;
  readonly maxWaitersPerNode: number;
}

/**
 * A reader parked at the end of a stored stream. Parked before its last read, so a message stored between
 * that read and the wait still wakes it: `wait()` then resolves at once.
 */
export class ParkedRead {
  private outcome: WaitOutcome | null = null;
  private resolve: ((outcome: WaitOutcome) => void) | null = null;
  private timer: NodeJS.Timeout | undefined = undefined;
  private signal: AbortSignal | undefined = undefined;

  constructor(
    readonly streamId: string,
    private readonly owner: StoredReadWaiters,
  ) {}

  /**
   * Resolves when a message is stored on the stream, the time is up, the client hangs up, the stream moves to
   * another node, or the node stops.
   */
  wait(timeoutMs: number, signal: AbortSignal | undefined): Promise<WaitOutcome> {
    if (this.outcome !== null) return Promise.resolve(this.outcome);
    if (signal?.aborted) {
      this.leave();
      return Promise.resolve('aborted');
    }
    return new Promise<WaitOutcome>((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(this.onTimeout, timeoutMs);
      if (signal !== undefined) {
        this.signal = signal;
        signal.addEventListener('abort', this.onAbort, { once: true });
      }
    });
  }

  /** Stops waiting (the reader found messages after all). */
  leave(): void {
    this.settle('aborted');
  }

  /** Called by StoredReadWaiters when it wakes or releases this reader. */
  settle(outcome: WaitOutcome): void {
    if (this.outcome !== null) return;
    this.outcome = outcome;
    this.owner.release(this);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this.onAbort);
    this.resolve?.(outcome);
  }

  private readonly onTimeout = (): void => this.settle('timeout');
  private readonly onAbort = (): void => this.settle('aborted');
}

/**
 * Readers waiting for the next message of a stored stream, woken in-process when this node (the owner) stores
 * one: no reader polls the database while it waits.
 */
export class StoredReadWaiters {
  private readonly byStream = new Map<string, Set<ParkedRead>>();
  private count = 0;
  private closed = false;
  /** Streams served elsewhere now (see `moved`); null until ownership first moves. */
  private movedAway: ((streamId: string) => boolean) | null = null;

  constructor(private readonly limits: WaiterLimits) {}

  get size(): number {
    return this.count;
  }

  /** Parks a reader on the stream, or says why it cannot wait. */
  park(streamId: string): ParkedRead | 'too_many_waiters' | 'shutting_down' | 'moved' {
    if (this.closed) return 'shutting_down';
    if (this.movedAway?.(streamId) === true) return 'moved';
    let readers = this.byStream.get(streamId);
    if (this.count >= this.limits.maxWaitersPerNode || (readers?.size ?? 0) >= this.limits.maxWaitersPerStream) {
      return 'too_many_waiters';
    }
    if (readers === undefined) {
      readers = new Set();
      this.byStream.set(streamId, readers);
    }
    const parked = new ParkedRead(streamId, this);
    readers.add(parked);
    this.count++;
    return parked;
  }

  /** Wakes every reader waiting on the stream; they read the new messages themselves. */
  notify(streamId: string): void {
    const readers = this.byStream.get(streamId);
    if (readers === undefined) return;
    for (const reader of readers) reader.settle('stored');
  }

  /** Answers every waiting reader and parks no more (node shutdown). */
  close(): void {
    this.closed = true;
    for (const readers of this.byStream.values()) {
      for (const reader of readers) reader.settle('shutting_down');
    }
  }

  /**
   * Ownership moved: the streams `movedAway` selects are now served by other nodes, whose writes never wake
   * readers here. Their parked readers are answered `moved`, and so is any reader that would park on one later
   * (a read that began before the move): `movedAway` is kept and asked at each park, so it should read the
   * current ownership. Returns how many readers were answered.
   */
  moved(movedAway: (streamId: string) => boolean): number {
    this.movedAway = movedAway;
    let answered = 0;
    for (const [streamId, readers] of this.byStream) {
      if (!movedAway(streamId)) continue;
      answered += readers.size;
      for (const reader of readers) reader.settle('moved');
    }
    return answered;
  }

  release(reader: ParkedRead): void {
    const readers = this.byStream.get(reader.streamId);
    if (readers === undefined || !readers.delete(reader)) return;
    this.count--;
    if (readers.size === 0) this.byStream.delete(reader.streamId);
  }
}
