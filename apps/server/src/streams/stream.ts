import { DedupWindow, TIMESTAMP_UNKNOWN } from './dedup-window.js';
import { Deque } from './deque.js';
import type { MemoryBudget } from './memory-budget.js';
import {
  PARKED,
  type HangUpSignal,
  type ReceiveFailure,
  type ReceiveOutcome,
  type SendOutcome,
  type StreamMessage,
  type WaitListener,
} from './types.js';

/** What a stream needs from the engine that holds it: node-wide waiter accounting and idleness. */
export interface StreamHost {
  readonly dedupWindow: number;
  readonly maxStreamBytes: number;
  /** Counts every message a stream holds, buffered or parked with its blocked sender. */
  readonly budget: MemoryBudget;
  /** Reserves a waiter slot node-wide and on the stream; false when a limit is reached. */
  admitWaiter(stream: Stream): boolean;
  releaseWaiter(): void;
  becameIdle(stream: Stream): void;
}

/** Capacity of a stream that a receiver created before any send said how large it should be. */
const CAPACITY_UNSET = -1;

/** A parked long-poll: settled exactly once, by a message, its timer, its signal, a hand-off or shutdown. */
class Waiter<T> {
  timer: NodeJS.Timeout | undefined = undefined;
  signal: HangUpSignal | undefined = undefined;
  settled = false;
  constructor(
    readonly listener: WaitListener<T>,
    readonly maxMessages: number,
    readonly message: StreamMessage | undefined,
  ) {}

  onAbort: (() => void) | undefined = undefined;
}

type Receiver = Waiter<ReceiveOutcome>;
type BlockedSend = Waiter<SendOutcome>;

/**
 * One stream's buffer and its waiting receivers and blocked senders.
 *
 * Invariants: buffered messages and waiting receivers never coexist (a send to a stream with a waiter hands
 * the message over directly); blocked senders exist only while the buffer is full (or the stream is a
 * sync-match stream of capacity 0).
 */
export class Stream {
  private buffer: Deque<StreamMessage> | null = null;
  private receivers: Deque<Receiver> | null = null;
  private blocked: Deque<BlockedSend> | null = null;
  /** Made with the stream's first message (none while `dedupWindow` is 0). */
  private dedup: DedupWindow | null = null;
  /** Sum of the buffered messages' `bytes`. */
  private bufferedBytes = 0;
  /** When the stream last became idle (epoch ms), 0 while it is busy. Read by the engine's eviction sweep. */
  idleSince = 0;
  inIdleQueue = false;

  constructor(
    readonly id: string,
    private host: StreamHost,
    private capacityValue: number = CAPACITY_UNSET,
  ) {}

  get capacity(): number {
    return this.capacityValue;
  }

  get bufferedCount(): number {
    return this.buffer === null ? 0 : this.buffer.size;
  }

  get waiterCount(): number {
    return (this.receivers === null ? 0 : this.receivers.size) + (this.blocked === null ? 0 : this.blocked.size);
  }

  get isIdle(): boolean {
    return this.bufferedCount === 0 && this.waiterCount === 0;
  }

  send(
    message: StreamMessage,
    capacity: number,
    blockingTimeoutMs: number,
    signal?: HangUpSignal,
  ): SendOutcome | Promise<SendOutcome> {
    if (this.capacityValue === CAPACITY_UNSET) this.capacityValue = capacity;
    if (message.bytes > this.host.maxStreamBytes) return this.idleAfter('too_large');
    const seen = this.recentIndex(message.messageUuid);
    if (seen >= 0) return this.dedup!.duplicateOf(seen, message);
    this.idleSince = 0;

    const receiver = this.nextReceiver();
    if (receiver !== undefined) {
      this.remember(message.messageUuid, message.timestamp);
      this.settle(receiver, [message]);
      return this.idleAfter('accepted'); // handed straight over: the stream may be empty now
    }
    if (this.fits(message)) {
      if (!this.host.budget.tryAcquire(message.bytes)) return this.idleAfter('memory_full');
      this.bufferOf().pushBack(message);
      this.bufferedBytes += message.bytes;
      this.remember(message.messageUuid, message.timestamp);
      return 'accepted';
    }
    if (blockingTimeoutMs === 0) {
      // A zero-capacity stream has nowhere to put an unmatched message; a circular buffer drops its oldest.
      return this.capacityValue === 0 ? this.idleAfter('timeout') : this.replaceOldest(message);
    }
    // A client that hung up before we got here would never fire its signal: do not park its message.
    if (signal?.aborted) return this.idleAfter('aborted');
    // A parked sender holds its message: it counts against the budget until it is taken or given up.
    if (!this.host.budget.tryAcquire(message.bytes)) return this.idleAfter('memory_full');
    if (!this.host.admitWaiter(this)) {
      this.host.budget.release(message.bytes);
      return this.idleAfter('too_many_waiters');
    }
    return new Promise<SendOutcome>((resolve) => {
      const sender: BlockedSend = new Waiter({ settled: resolve }, 1, message);
      (this.blocked ??= new Deque(2)).pushBack(sender);
      this.park(sender, this.blocked, blockingTimeoutMs, signal, 'timeout', 'aborted');
    });
  }

  /** Takes buffered messages, or parks the receive for up to `timeoutMs` and answers `listener` later. */
  receive(
    timeoutMs: number,
    maxMessages: number,
    signal: HangUpSignal | undefined,
    listener: WaitListener<ReceiveOutcome>,
  ): ReceiveOutcome | typeof PARKED {
    const taken = this.take(maxMessages);
    if (taken !== undefined) return taken;
    if (timeoutMs === 0) return this.idleAfter('timeout');
    if (signal?.aborted) return this.idleAfter('aborted');
    if (!this.host.admitWaiter(this)) return this.idleAfter('too_many_waiters');
    this.idleSince = 0;
    const receiver: Receiver = new Waiter(listener, maxMessages, undefined);
    (this.receivers ??= new Deque(2)).pushBack(receiver);
    this.park(receiver, this.receivers, timeoutMs, signal, 'timeout', 'aborted');
    return PARKED;
  }

  /**
   * Puts messages taken for a receiver that has gone back at the head, in their order, so nothing is lost.
   * The buffer may briefly hold more than its capacity: dropping a message here would lose it.
   */
  returnToHead(messages: readonly StreamMessage[]): void {
    const buffer = this.bufferOf();
    for (let i = messages.length - 1; i >= 0; i--) this.holdAtHead(buffer, messages[i]);
    this.idleSince = 0;
    let receiver: Receiver | undefined;
    while (buffer.size > 0 && (receiver = this.nextReceiver()) !== undefined) {
      this.settle(receiver, this.take(receiver.maxMessages)!);
    }
  }

  /** Answers every waiter: the node shuts down, or the stream moves to another node. */
  closeWaiters(reason: 'shutting_down' | 'moved'): void {
    let receiver: Receiver | undefined;
    while ((receiver = this.nextReceiver()) !== undefined) this.settle(receiver, reason);
    let sender: BlockedSend | undefined;
    while ((sender = this.blocked?.popFront()) !== undefined) this.dismiss(sender, reason);
  }

  /** Buffered messages, oldest first, and the dedup memory: what a new owner needs to continue. */
  snapshotMessages(): StreamMessage[] {
    return this.buffer === null ? [] : this.buffer.toArray();
  }

  /** The dedup window: remembered messageUuids and their messages' arrival times, in the same order. */
  recentList(): { uuids: string[]; timestamps: number[] } {
    return this.dedup === null ? { uuids: [], timestamps: [] } : this.dedup.list();
  }

  /** Adds messages handed over by a previous owner behind anything already here. */
  adopt(
    messages: readonly StreamMessage[],
    recentUuids: readonly string[],
    recentTimestamps: readonly number[] | undefined,
    capacity: number,
  ): void {
    // A receiver may have created the stream here first; the previous owner's capacity is the one set by a send.
    if (this.capacityValue === CAPACITY_UNSET) this.capacityValue = capacity;
    for (let i = 0; i < recentUuids.length; i++) {
      if (this.recentIndex(recentUuids[i]) < 0)
        this.remember(recentUuids[i], recentTimestamps?.[i] ?? TIMESTAMP_UNKNOWN);
    }
    // A buffered message brings its own time, also where its uuid came without one.
    for (const message of messages) {
      const seen = this.recentIndex(message.messageUuid);
      if (seen < 0) this.remember(message.messageUuid, message.timestamp);
      else this.dedup!.learnTimestamp(seen, message.timestamp);
      const receiver = this.nextReceiver();
      if (receiver !== undefined) {
        this.settle(receiver, [message]);
      } else {
        // Accepted by the previous owner: held even beyond the budget (the hand-off checked it had room).
        this.bufferOf().pushBack(message);
        this.bufferedBytes += message.bytes;
        this.host.budget.acquire(message.bytes);
      }
    }
    if (messages.length > 0) this.idleSince = 0;
    if (this.isIdle) this.host.becameIdle(this);
  }

  private take(maxMessages: number): StreamMessage[] | undefined {
    let taken: StreamMessage[] | undefined;
    while ((taken === undefined ? 0 : taken.length) < maxMessages) {
      let message = this.buffer?.popFront();
      if (message !== undefined) this.bufferedBytes -= message.bytes;
      else if ((message = this.admitBlocked(false)) === undefined) break;
      this.host.budget.release(message.bytes);
      (taken ??= []).push(message);
      // Space has opened: the longest-blocked senders move into the buffer while their messages fit.
      while (this.admitBlocked(true) !== undefined);
    }
    if (taken !== undefined && this.isIdle) this.host.becameIdle(this);
    return taken;
  }

  /**
   * Completes the oldest blocked send and returns its message: placed in the buffer if it fits there (else
   * the sender keeps waiting and this returns undefined), or for a direct hand-off.
   */
  private admitBlocked(intoBuffer: boolean): StreamMessage | undefined {
    let sender: BlockedSend | undefined;
    while ((sender = this.blocked?.peekFront()) !== undefined) {
      if (intoBuffer && this.bufferedCount >= this.capacityValue) return undefined;
      const message = sender.message!;
      // A retry that blocked beside its original (both arrived while the stream was full): once the first is
      // in, the other is its duplicate, not a second message.
      const seen = this.recentIndex(message.messageUuid);
      if (seen >= 0) {
        this.blocked!.popFront();
        this.dismiss(sender, this.dedup!.duplicateOf(seen, message));
        continue;
      }
      if (intoBuffer && !this.fits(message)) return undefined;
      this.blocked!.popFront();
      this.remember(message.messageUuid, message.timestamp);
      this.settle(sender, 'accepted');
      if (intoBuffer) {
        this.bufferOf().pushBack(message);
        this.bufferedBytes += message.bytes;
      }
      return message;
    }
    return undefined;
  }

  /** Whether the buffer has room for `message`, by count and by bytes. */
  private fits(message: StreamMessage): boolean {
    return this.bufferedCount < this.capacityValue && this.bufferedBytes + message.bytes <= this.host.maxStreamBytes;
  }

  /**
   * A full circular buffer drops its oldest messages until the new one fits, by count and by bytes. Refused
   * (nothing dropped) if what it adds beyond what it drops does not fit the memory budget.
   */
  private replaceOldest(message: StreamMessage): SendOutcome {
    const buffer = this.bufferOf();
    let dropped = 0;
    let freed = 0;
    while (
      buffer.size - dropped >= this.capacityValue ||
      this.bufferedBytes - freed + message.bytes > this.host.maxStreamBytes
    ) {
      freed += buffer.at(dropped)!.bytes;
      dropped++;
    }
    if (message.bytes > freed) {
      if (!this.host.budget.tryAcquire(message.bytes - freed)) return 'memory_full';
    } else {
      this.host.budget.release(freed - message.bytes);
    }
    for (let i = 0; i < dropped; i++) buffer.popFront();
    buffer.pushBack(message);
    this.bufferedBytes += message.bytes - freed;
    this.remember(message.messageUuid, message.timestamp);
    return 'accepted';
  }

  /** Puts a message accepted before back at the head: held whatever the budget says, or it would be lost. */
  private holdAtHead(buffer: Deque<StreamMessage>, message: StreamMessage): void {
    buffer.pushFront(message);
    this.bufferedBytes += message.bytes;
    this.host.budget.acquire(message.bytes);
  }

  private nextReceiver(): Receiver | undefined {
    return this.receivers === null ? undefined : this.receivers.popFront();
  }

  private park<T>(
    waiter: Waiter<T>,
    queue: Deque<Waiter<T>>,
    timeoutMs: number,
    signal: HangUpSignal | undefined,
    onTimeout: T,
    onAborted: T,
  ): void {
    waiter.timer = setTimeout(() => {
      queue.remove(waiter);
      this.dismiss(waiter, onTimeout);
      if (this.isIdle) this.host.becameIdle(this);
    }, timeoutMs);
    if (signal !== undefined) {
      waiter.signal = signal;
      waiter.onAbort = () => {
        queue.remove(waiter);
        this.dismiss(waiter, onAborted);
        if (this.isIdle) this.host.becameIdle(this);
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
  }

  /** Answers a waiter that got nothing: a blocked sender's message, not taken, leaves the budget. */
  private dismiss<T>(waiter: Waiter<T>, value: T): void {
    if (waiter.message !== undefined && !waiter.settled) this.host.budget.release(waiter.message.bytes);
    this.settle(waiter, value);
  }

  private settle<T>(waiter: Waiter<T>, value: T): void {
    if (waiter.settled) return;
    waiter.settled = true;
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener('abort', waiter.onAbort);
    this.host.releaseWaiter();
    // A receive's listener answers at once and may hand messages back (returnToHead) from inside this call:
    // every caller settles last, with the stream consistent.
    waiter.listener.settled(value);
  }

  private idleAfter<T extends SendOutcome | ReceiveFailure>(outcome: T): T {
    if (this.isIdle) this.host.becameIdle(this);
    return outcome;
  }

  private bufferOf(): Deque<StreamMessage> {
    return (this.buffer ??= new Deque(1));
  }

  /** The slot of a remembered messageUuid, or -1. */
  private recentIndex(uuid: string): number {
    return this.dedup === null ? -1 : this.dedup.indexOf(uuid);
  }

  /** Remembers a messageUuid that is not remembered yet (the callers have checked) and its arrival time. */
  private remember(uuid: string, timestamp: number): void {
    const window = this.host.dedupWindow;
    if (window === 0) return;
    if (this.dedup === null) this.dedup = new DedupWindow(window, uuid, timestamp);
    else this.dedup.add(uuid, timestamp);
  }
}
