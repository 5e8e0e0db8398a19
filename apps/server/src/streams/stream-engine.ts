import { Deque } from './deque.js';
import { MemoryBudget } from './memory-budget.js';
import { Stream, type StreamHost } from './stream.js';
import {
  PARKED,
  type EngineLimits,
  type ReceiveOptions,
  type ReceiveOutcome,
  type SendOptions,
  type SendOutcome,
  type StreamMessage,
  type StreamSnapshot,
  type WaitListener,
} from './types.js';

export interface EngineStats {
  readonly streams: number;
  readonly waiters: number;
  readonly bufferedMessages: number;
}

/**
 * The in-memory engine: every stream this node owns, created on first use and evicted once idle.
 *
 * Pure TypeScript with no framework imports. Hot paths (send, wake a waiter) do one map lookup and touch only
 * the stream concerned; eviction runs on a timer and walks only streams that became idle.
 */
export class StreamEngine implements StreamHost {
  private readonly streams = new Map<string, Stream>();
  private readonly idleQueue = new Deque<Stream>(16);
  private waiters = 0;
  private closed = false;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly limits: EngineLimits,
    private readonly now: () => number = Date.now,
    /** Node-wide: stored sends waiting for their commit count against it too. */
    readonly budget: MemoryBudget = new MemoryBudget(Number.POSITIVE_INFINITY),
  ) {
    this.sweepTimer = setInterval(() => this.evictIdle(), Math.max(10, Math.floor(limits.idleEvictionMs / 2)));
    this.sweepTimer.unref();
  }

  get dedupWindow(): number {
    return this.limits.dedupWindow;
  }

  get maxStreamBytes(): number {
    return this.limits.maxStreamBytes;
  }

  send(streamId: string, message: StreamMessage, options: SendOptions): SendOutcome | Promise<SendOutcome> {
    if (this.closed && options.blockingTimeoutMs > 0) return 'shutting_down';
    let stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (this.streams.size >= this.limits.maxStreams) return 'too_many_streams';
      stream = new Stream(streamId, this, options.capacity);
      this.streams.set(streamId, stream);
    }
    return stream.send(message, options.capacity, options.blockingTimeoutMs, options.signal);
  }

  /** A receive as a promise when it waits: `receiveOrPark` with a listener made for the caller. */
  receive(streamId: string, options: ReceiveOptions): ReceiveOutcome | Promise<ReceiveOutcome> {
    const listener = new PromisedOutcome<ReceiveOutcome>();
    const outcome = this.receiveOrPark(streamId, options, listener);
    return outcome === PARKED ? listener.promise() : outcome;
  }

  /**
   * Takes up to `maxMessages` buffered messages, or parks the receive and answers `listener` once it ends (a
   * message, its timeout, its signal, a hand-off or shutdown) — never from inside this call.
   */
  receiveOrPark(
    streamId: string,
    options: ReceiveOptions,
    listener: WaitListener<ReceiveOutcome>,
  ): ReceiveOutcome | typeof PARKED {
    let stream = this.streams.get(streamId);
    const waits = options.timeoutMs > 0 && !this.closed;
    if (stream === undefined) {
      if (!waits) return this.closed ? 'shutting_down' : 'timeout';
      if (this.streams.size >= this.limits.maxStreams) return 'too_many_streams';
      stream = new Stream(streamId, this);
      this.streams.set(streamId, stream);
    }
    const outcome = stream.receive(waits ? options.timeoutMs : 0, options.maxMessages ?? 1, options.signal, listener);
    return outcome === 'timeout' && this.closed ? 'shutting_down' : outcome;
  }

  /** Gives back messages taken for a receiver whose connection had gone before they were written. */
  returnToHead(streamId: string, messages: readonly StreamMessage[]): void {
    let stream = this.streams.get(streamId);
    if (stream === undefined) {
      stream = new Stream(streamId, this);
      this.streams.set(streamId, stream);
    }
    stream.returnToHead(messages);
  }

  stats(): EngineStats {
    let bufferedMessages = 0;
    for (const stream of this.streams.values()) bufferedMessages += stream.bufferedCount;
    return { streams: this.streams.size, waiters: this.waiters, bufferedMessages };
  }

  get streamCount(): number {
    return this.streams.size;
  }

  get waiterCount(): number {
    return this.waiters;
  }

  /** Stops parking new waiters and answers every parked one with `shutting_down`. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweepTimer);
    for (const stream of this.streams.values()) stream.closeWaiters('shutting_down');
  }

  /**
   * Removes and returns the streams the predicate selects, with their buffered messages in order, for a new
   * owner to adopt. Waiters on them are answered `moved` so their clients retry through the cluster. The
   * messages stay counted against the budget while they travel: `handedOver` releases them once the new
   * owner has them (or before `adopt` takes them back).
   */
  detach(select: (streamId: string) => boolean): StreamSnapshot[] {
    const snapshots: StreamSnapshot[] = [];
    for (const [streamId, stream] of this.streams) {
      if (!select(streamId)) continue;
      stream.closeWaiters('moved');
      this.streams.delete(streamId);
      const messages = stream.snapshotMessages();
      if (messages.length === 0) continue;
      const recent = stream.recentList();
      snapshots.push({
        streamId,
        capacity: stream.capacity,
        messages,
        recentUuids: recent.uuids,
        recentTimestamps: recent.timestamps,
      });
    }
    return snapshots;
  }

  /** Messages of detached streams that have left this node (or come back through `adopt`). */
  handedOver(messages: readonly StreamMessage[]): void {
    for (const message of messages) this.budget.release(message.bytes);
  }

  /**
   * Takes over a stream from its previous owner; its messages go behind any this node already holds, held
   * even beyond the budget (a hand-off checks for room first, and a message accepted once is not dropped).
   */
  adopt(snapshot: StreamSnapshot): void {
    let stream = this.streams.get(snapshot.streamId);
    if (stream === undefined) {
      stream = new Stream(snapshot.streamId, this, snapshot.capacity);
      this.streams.set(snapshot.streamId, stream);
    }
    stream.adopt(snapshot.messages, snapshot.recentUuids, snapshot.recentTimestamps, snapshot.capacity);
  }

  admitWaiter(stream: Stream): boolean {
    if (this.waiters >= this.limits.maxWaitersPerNode) return false;
    if (stream.waiterCount >= this.limits.maxWaitersPerStream) return false;
    this.waiters++;
    return true;
  }

  releaseWaiter(): void {
    this.waiters--;
  }

  becameIdle(stream: Stream): void {
    stream.idleSince = this.now();
    if (stream.inIdleQueue) return;
    stream.inIdleQueue = true;
    this.idleQueue.pushBack(stream);
  }

  /** Evicts streams idle for at least `idleEvictionMs`; walks only the streams that went idle. */
  evictIdle(): void {
    const cutoff = this.now() - this.limits.idleEvictionMs;
    for (let n = this.idleQueue.size; n > 0; n--) {
      const stream = this.idleQueue.popFront()!;
      if (!stream.isIdle) {
        stream.inIdleQueue = false;
      } else if (stream.idleSince <= cutoff) {
        stream.inIdleQueue = false;
        if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
      } else {
        this.idleQueue.pushBack(stream);
      }
    }
  }
}

/** A listener whose outcome a caller awaits; its promise is made only for a receive that parked. */
class PromisedOutcome<T> implements WaitListener<T> {
  private resolve: ((outcome: T) => void) | undefined;

  promise(): Promise<T> {
    return new Promise<T>((resolve) => (this.resolve = resolve));
  }

  settled(outcome: T): void {
    this.resolve!(outcome);
  }
}
