/** A message as the owner holds it in memory. `timestamp` is epoch milliseconds, set on arrival. */
export interface StreamMessage {
  readonly messageUuid: string;
  readonly message: unknown;
  readonly timestamp: number;
  /** Byte length of the JSON it arrived in: what it counts against the memory budget and its stream's byte cap. */
  readonly bytes: number;
}

/**
 * How a send ended. Outcomes are values, not exceptions: a 424 is routine for long-polling and must not
 * cost a stack trace.
 */
export type SendOutcome =
  | 'accepted'
  | DuplicateSend
  | 'timeout'
  | 'aborted'
  | 'too_many_waiters'
  | 'too_many_streams'
  | 'shutting_down'
  | 'moved'
  /** The node's memory budget has no room for the message; nothing held was dropped. */
  | 'memory_full'
  /** The message alone is larger than a stream may hold. */
  | 'too_large';

/**
 * A retried send: the stream already took this messageUuid (within the dedup window), so the retry gets the
 * original's answer. Allocated only for a duplicate; every other outcome is a string.
 */
export interface DuplicateSend {
  /** Epoch ms the original was given on arrival (the retry's own arrival time if a hand-off did not carry it). */
  readonly originalTimestamp: number;
}

/** `moved` (also for sends): the stream was handed to another node while the request waited; ask again. */
export type ReceiveFailure =
  | 'timeout'
  | 'aborted'
  | 'too_many_waiters'
  | 'too_many_streams'
  | 'shutting_down'
  | 'moved';

/** The messages taken (one or more, oldest first) or why none were. */
export type ReceiveOutcome = StreamMessage[] | ReceiveFailure;

/**
 * Told once how a parked request ended. The HTTP API's per-request object is one (and the request's hang-up
 * signal too), so a long poll parks without a promise, a closure or an async function's frame.
 */
export interface WaitListener<T> {
  settled(outcome: T): void;
}

/** What `receiveOrPark` answers when the receive waits: its listener hears the outcome later, never at once. */
export const PARKED = 'parked';

/**
 * Fires once when the client behind a parked waiter hangs up. An AbortSignal is one; the HTTP API passes a
 * lighter object that listens on the connection, since an AbortController per long poll costs microseconds
 * and about a kilobyte.
 */
export interface HangUpSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface SendOptions {
  /** Buffer capacity; applies only when this send creates the stream. */
  readonly capacity: number;
  /** 0: circular buffer. > 0: wait up to this long for space (blocking queue) or a receiver (sync match). */
  readonly blockingTimeoutMs: number;
  readonly signal?: HangUpSignal;
}

export interface ReceiveOptions {
  readonly timeoutMs: number;
  /** Take up to this many buffered messages (default 1). */
  readonly maxMessages?: number;
  readonly signal?: HangUpSignal;
}

export interface EngineLimits {
  /** Streams held in memory at once; a send that would create one more answers too_many_streams. */
  readonly maxStreams: number;
  readonly maxWaitersPerStream: number;
  readonly maxWaitersPerNode: number;
  /** Bytes of messages one stream buffers, beside its count capacity. */
  readonly maxStreamBytes: number;
  /** How many recent messageUuids each stream remembers to drop retried sends. */
  readonly dedupWindow: number;
  /** An idle stream (empty, nobody waiting) is evicted after this long; its dedup memory goes with it. */
  readonly idleEvictionMs: number;
}

/** A stream's state moved between owners (hand-off), oldest message first. */
export interface StreamSnapshot {
  readonly streamId: string;
  readonly capacity: number;
  readonly messages: StreamMessage[];
  /** The dedup window's messageUuids, and the arrival time of each (epoch ms) in the same order. */
  readonly recentUuids: string[];
  /** Absent when handed over by a node that did not send them: a retry of such a uuid gets its own time. */
  readonly recentTimestamps?: number[];
}
