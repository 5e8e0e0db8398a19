import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StreamEngine } from './stream-engine.js';
import type { ReceiveOutcome, SendOptions, SendOutcome, StreamMessage } from './types.js';

/**
 * Randomized interleavings of sends, long-poll receives, hang-ups (aborts), timeouts and returns to the head,
 * checked against a model of each stream: every receive must get exactly the messages at the head of the
 * model, so nothing is lost, duplicated or reordered, the engine's waiter and buffer counts must match, and
 * once everything is idle every stream is evicted.
 */

interface StreamMode {
  readonly id: string;
  /** Circular buffers drop their oldest message at this size; blocking modes never drop. */
  readonly dropsAt?: number;
  options(random: () => number, signal: AbortSignal): SendOptions;
}

const MODES: StreamMode[] = [
  { id: 'circular', dropsAt: 3, options: () => ({ capacity: 3, blockingTimeoutMs: 0 }) },
  {
    id: 'queue',
    options: (random, signal) => ({ capacity: 2, blockingTimeoutMs: 1 + Math.floor(random() * 400), signal }),
  },
  {
    id: 'sync',
    options: (random, signal) => ({ capacity: 0, blockingTimeoutMs: 1 + Math.floor(random() * 400), signal }),
  },
  {
    id: 'roomy',
    options: (random, signal) => ({ capacity: 8, blockingTimeoutMs: 1 + Math.floor(random() * 400), signal }),
  },
];

type ModelEvent =
  | { kind: 'accepted'; streamId: string; uuid: string }
  | { kind: 'delivered' | 'returned'; streamId: string; uuids: string[] };

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MESSAGE_BYTES = 100;

class Simulation {
  readonly engine = new StreamEngine({
    maxStreams: 100,
    maxWaitersPerStream: 1_000,
    maxWaitersPerNode: 1_000,
    maxStreamBytes: 64 * 1024 * 1024,
    dedupWindow: 100,
    idleEvictionMs: 1_000,
  });
  private readonly random: () => number;
  /** What each stream holds, oldest first, as the engine should have it. */
  private readonly model = new Map<string, string[]>(MODES.map((mode) => [mode.id, []]));
  private readonly accepted = new Map<string, string[]>(MODES.map((mode) => [mode.id, []]));
  private readonly dropped = new Set<string>();
  /** Net deliveries per uuid (a return to the head takes one back). */
  private readonly deliveries = new Map<string, number>();
  /** Waiting receivers and blocked senders, by their hang-up switch. */
  private readonly pending = new Set<AbortController>();
  /** Blocked senders among them: each holds its message's bytes in the memory budget. */
  private readonly blockedSenders = new Set<AbortController>();
  private events: ModelEvent[] = [];
  private nextUuid = 0;
  readonly counts = { sends: 0, receives: 0, blockedSends: 0, waitingReceives: 0, aborts: 0, returns: 0 };

  constructor(seed: number) {
    this.random = prng(seed);
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }

  send(): void {
    const mode = this.pick(MODES);
    const uuid = `${mode.id}-${this.nextUuid++}`;
    const hangUp = new AbortController();
    const message: StreamMessage = { messageUuid: uuid, message: uuid, timestamp: 0, bytes: MESSAGE_BYTES };
    const outcome = this.engine.send(mode.id, message, mode.options(this.random, hangUp.signal));
    this.counts.sends++;
    if (outcome instanceof Promise) {
      this.counts.blockedSends++;
      this.pending.add(hangUp);
      this.blockedSenders.add(hangUp);
    }
    void Promise.resolve(outcome).then((result: SendOutcome) => {
      this.pending.delete(hangUp);
      this.blockedSenders.delete(hangUp);
      expect(['accepted', 'timeout', 'aborted']).toContain(result);
      if (result === 'accepted') this.events.push({ kind: 'accepted', streamId: mode.id, uuid });
    });
  }

  receive(): void {
    const mode = this.pick(MODES);
    const hangUp = new AbortController();
    const timeoutMs = this.random() < 0.3 ? 0 : 1 + Math.floor(this.random() * 500);
    const maxMessages = this.pick([1, 1, 1, 2, 4]);
    const outcome = this.engine.receive(mode.id, { timeoutMs, maxMessages, signal: hangUp.signal });
    this.counts.receives++;
    if (outcome instanceof Promise) {
      this.counts.waitingReceives++;
      this.pending.add(hangUp);
    }
    // Like the controller: the answer is seen a microtask later, and a receiver whose connection has gone
    // by then gives its messages back to the head.
    const connectionGone = this.random() < 0.15;
    void Promise.resolve(outcome).then((result: ReceiveOutcome) => {
      this.pending.delete(hangUp);
      if (!Array.isArray(result)) {
        expect(['timeout', 'aborted']).toContain(result);
        return;
      }
      expect(result.length).toBeGreaterThan(0);
      expect(result.length).toBeLessThanOrEqual(maxMessages);
      const uuids = result.map((m) => m.messageUuid);
      this.events.push({ kind: 'delivered', streamId: mode.id, uuids });
      if (connectionGone) {
        this.counts.returns++;
        this.engine.returnToHead(mode.id, result);
        this.events.push({ kind: 'returned', streamId: mode.id, uuids });
      }
    });
  }

  abortOne(): void {
    if (this.pending.size === 0) return;
    this.counts.aborts++;
    this.pick([...this.pending]).abort();
  }

  async advance(ms: number): Promise<void> {
    await vi.advanceTimersByTimeAsync(ms);
  }

  /** Applies what one step produced to the model and checks the engine against it. */
  async settle(): Promise<void> {
    for (let i = 0; i < 10; i++) await Promise.resolve();
    const events = this.events;
    this.events = [];
    // Acceptances of one step are appended to the tail; within a step they may be observed after a
    // delivery from the head that happened later, so they are applied first.
    for (const event of events) if (event.kind === 'accepted') this.accept(event.streamId, event.uuid);
    for (const event of events) {
      if (event.kind === 'accepted') continue;
      const queue = this.model.get(event.streamId)!;
      if (event.kind === 'delivered') {
        expect(event.uuids, `delivery on ${event.streamId}`).toEqual(queue.slice(0, event.uuids.length));
        queue.splice(0, event.uuids.length);
        for (const uuid of event.uuids) this.deliveries.set(uuid, (this.deliveries.get(uuid) ?? 0) + 1);
      } else {
        queue.unshift(...event.uuids);
        for (const uuid of event.uuids) this.deliveries.set(uuid, this.deliveries.get(uuid)! - 1);
      }
    }
    for (const count of this.deliveries.values()) expect(count).toBeLessThanOrEqual(1);
    expect(this.engine.waiterCount).toBe(this.pending.size);
    let modelled = 0;
    for (const queue of this.model.values()) modelled += queue.length;
    expect(this.engine.stats().bufferedMessages).toBe(modelled);
    expect(this.engine.budget.used, 'bytes held').toBe(MESSAGE_BYTES * (modelled + this.blockedSenders.size));
  }

  private accept(streamId: string, uuid: string): void {
    const queue = this.model.get(streamId)!;
    const dropsAt = MODES.find((mode) => mode.id === streamId)!.dropsAt;
    if (dropsAt !== undefined && queue.length >= dropsAt) this.dropped.add(queue.shift()!);
    queue.push(uuid);
    this.accepted.get(streamId)!.push(uuid);
  }

  /** Lets every wait end, takes what is left, and checks that every accepted message went out exactly once. */
  async finish(): Promise<void> {
    await this.advance(1_000);
    await this.settle();
    expect(this.pending.size).toBe(0);
    for (const mode of MODES) {
      const outcome = this.engine.receive(mode.id, { timeoutMs: 0, maxMessages: 1_000 });
      if (Array.isArray(outcome)) {
        this.events.push({ kind: 'delivered', streamId: mode.id, uuids: outcome.map((m) => m.messageUuid) });
      }
    }
    await this.settle();
    for (const mode of MODES) {
      expect(this.model.get(mode.id)).toEqual([]);
      for (const uuid of this.accepted.get(mode.id)!) {
        const delivered = this.deliveries.get(uuid) ?? 0;
        expect(delivered + (this.dropped.has(uuid) ? 1 : 0), `${uuid} delivered or dropped once`).toBe(1);
      }
    }
    expect(this.engine.stats()).toMatchObject({ waiters: 0, bufferedMessages: 0 });
    // Every stream is idle now, so the eviction sweep must remove them all: none leaks.
    await this.advance(2_000);
    expect(this.engine.streamCount).toBe(0);
  }
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('randomized interleavings of send, receive, abort and timeouts', () => {
  const seeds = Array.from({ length: 20 }, (_, i) => i + 1);

  it.each(seeds)('seed %i: nothing lost, duplicated or reordered', async (seed) => {
    const sim = new Simulation(seed);
    const random = prng(seed * 7919);
    try {
      for (let step = 0; step < 400; step++) {
        const r = random();
        if (r < 0.35) sim.send();
        else if (r < 0.7) sim.receive();
        else if (r < 0.8) sim.abortOne();
        else await sim.advance(Math.floor(random() * 150));
        await sim.settle();
      }
      await sim.finish();
    } finally {
      sim.engine.close();
    }
    // The run must have exercised the interesting paths, or it proves little.
    expect(sim.counts.blockedSends).toBeGreaterThan(5);
    expect(sim.counts.waitingReceives).toBeGreaterThan(5);
    expect(sim.counts.aborts).toBeGreaterThan(5);
    expect(sim.counts.returns).toBeGreaterThan(0);
  });
});
