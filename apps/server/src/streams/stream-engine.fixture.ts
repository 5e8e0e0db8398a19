import { afterEach, beforeEach, vi } from 'vitest';
import { StreamEngine } from './stream-engine.js';
import type { DuplicateSend, EngineLimits, ReceiveOutcome, SendOptions, StreamMessage } from './types.js';

// What the engine's test files share: limits, send options, message and answer helpers, and the engine under
// test on a fake clock.
export const LIMITS: EngineLimits = {
  maxStreams: 10_000,
  maxWaitersPerStream: 100,
  maxWaitersPerNode: 1_000,
  maxStreamBytes: 64 * 1024 * 1024,
  dedupWindow: 100,
  idleEvictionMs: 60_000,
};

export const circular = (capacity = 100): SendOptions => ({ capacity, blockingTimeoutMs: 0 });
export const blocking = (capacity: number, blockingTimeoutMs: number, signal?: AbortSignal): SendOptions => ({
  capacity,
  blockingTimeoutMs,
  signal,
});
export const syncMatch = (blockingTimeoutMs: number, signal?: AbortSignal): SendOptions => ({
  capacity: 0,
  blockingTimeoutMs,
  signal,
});

export const SENT_AT = 1_700_000_000_000;

export function msg(
  messageUuid: string,
  message: unknown = messageUuid,
  timestamp = SENT_AT,
  bytes = 100,
): StreamMessage {
  return { messageUuid, message, timestamp, bytes };
}

/** The answer to a retry of a message sent at `originalTimestamp`. */
export const duplicateOf = (originalTimestamp = SENT_AT): DuplicateSend => ({ originalTimestamp });

/** Lets a test see whether an engine answer has settled yet without awaiting it. */
interface Tracked<T> {
  settled: boolean;
  value: T | undefined;
}
export function track<T>(outcome: T | Promise<T>): Tracked<T> {
  const tracked: Tracked<T> = { settled: false, value: undefined };
  void Promise.resolve(outcome).then((value) => {
    tracked.settled = true;
    tracked.value = value;
  });
  return tracked;
}

/** Runs queued promise reactions (engine answers settle synchronously; their `then`s need a few turns). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/** The uuids of the messages an answer carries, or the answer itself (a failure, a pending promise). */
export const uuids = (outcome: ReceiveOutcome | Promise<ReceiveOutcome> | undefined): unknown =>
  Array.isArray(outcome) ? outcome.map((m) => m.messageUuid) : outcome;

/** Takes everything buffered, one receive at a time, and returns the uuids in the order received. */
export function drain(engine: StreamEngine, streamId: string): string[] {
  const out: string[] = [];
  for (;;) {
    const outcome = engine.receive(streamId, { timeoutMs: 0 });
    if (!Array.isArray(outcome)) return out;
    out.push(...outcome.map((m) => m.messageUuid));
  }
}

/** Runs `check` against a second engine, the stream's new owner in a hand-off, and closes it afterwards. */
export async function withNewOwner(check: (next: StreamEngine) => Promise<void> | void): Promise<void> {
  const next = new StreamEngine(LIMITS, () => clock);
  try {
    await check(next);
  } finally {
    next.close();
  }
}

/** The engine under test, new for every test (a live binding: importers see the current one). */
export let engine: StreamEngine;
let clock: number;

/** Moves the engine's clock on. */
export function advance(ms: number): void {
  clock += ms;
}

/** Makes `next` the engine under test, as a test that needs other settings does. */
export function replaceEngine(next: StreamEngine): void {
  engine = next;
}
export function createEngine(overrides: Partial<EngineLimits> = {}): StreamEngine {
  engine?.close();
  engine = new StreamEngine({ ...LIMITS, ...overrides }, () => clock);
  return engine;
}

/** Registers the per-test engine on a fake clock, for a test file of the engine. */
export function useEngineFixture(): void {
  beforeEach(() => {
    vi.useFakeTimers();
    clock = 1_000_000;
    createEngine();
  });

  afterEach(() => {
    engine.close();
    vi.useRealTimers();
  });
}
