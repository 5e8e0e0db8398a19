import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryBudget } from './memory-budget.js';
import { StreamEngine } from './stream-engine.js';
import type { EngineLimits, ReceiveOutcome, SendOptions, StreamMessage } from './types.js';

// The memory budget (limits.maxBufferedBytes) and the per-stream byte cap (limits.maxStreamBytes).

const LIMITS: EngineLimits = {
  maxStreams: 1_000,
  maxWaitersPerStream: 100,
  maxWaitersPerNode: 1_000,
  maxStreamBytes: 1_000,
  dedupWindow: 100,
  idleEvictionMs: 60_000,
};

const circular: SendOptions = { capacity: 100, blockingTimeoutMs: 0 };
const blocking = (signal?: AbortSignal): SendOptions => ({ capacity: 100, blockingTimeoutMs: 1_000, signal });

const msg = (messageUuid: string, bytes: number): StreamMessage => ({
  messageUuid,
  message: messageUuid,
  timestamp: 1,
  bytes,
});

const uuids = (outcome: ReceiveOutcome | Promise<ReceiveOutcome>): unknown =>
  Array.isArray(outcome) ? outcome.map((m) => m.messageUuid) : outcome;

let engine: StreamEngine;
let refusals = 0;
function createEngine(budgetBytes: number, limits: Partial<EngineLimits> = {}): StreamEngine {
  refusals = 0;
  engine = new StreamEngine({ ...LIMITS, ...limits }, Date.now, new MemoryBudget(budgetBytes, () => refusals++));
  return engine;
}

afterEach(() => {
  engine.close();
  vi.useRealTimers();
});

describe('memory budget', () => {
  it('refuses a send beyond the budget without dropping anything, and takes sends again once read', () => {
    createEngine(1_000);
    for (let i = 0; i < 4; i++) expect(engine.send(`s${i}`, msg(`m${i}`, 250), circular)).toBe('accepted');
    expect(engine.budget.used).toBe(1_000);
    expect(engine.send('s0', msg('m4', 1), circular)).toBe('memory_full');
    expect(engine.send('new', msg('m5', 1), circular)).toBe('memory_full');
    expect(refusals).toBe(2);
    // A refused send is not remembered: its retry is a new message once there is room.
    expect(uuids(engine.receive('s1', { timeoutMs: 0 }))).toEqual(['m1']);
    expect(engine.budget.used).toBe(750);
    expect(engine.send('s0', msg('m4', 250), circular)).toBe('accepted');
    for (const stream of ['s0', 's2', 's3']) expect(Array.isArray(engine.receive(stream, { timeoutMs: 0 }))).toBe(true);
    expect(uuids(engine.receive('s0', { timeoutMs: 0 }))).toEqual(['m4']);
    expect(engine.budget.used).toBe(0);
  });

  it('does not count a message handed straight to a waiting receiver', async () => {
    createEngine(100);
    const waiting = engine.receive('s', { timeoutMs: 1_000 });
    expect(engine.send('s', msg('m1', 100), circular)).toBe('accepted');
    expect(uuids(await waiting)).toEqual(['m1']);
    expect(engine.budget.used).toBe(0);
  });

  it('a full circular buffer replacing its oldest needs room only for what it adds', () => {
    createEngine(300, { maxStreamBytes: 300 });
    for (let i = 0; i < 3; i++) void engine.send('s', msg(`m${i}`, 100), circular);
    expect(engine.send('s', msg('m3', 100), circular)).toBe('accepted'); // drops m0: no more held
    expect(engine.send('s', msg('m4', 50), circular)).toBe('accepted'); // drops m1: 50 fewer
    expect(engine.budget.used).toBe(250);
    expect(engine.send('other', msg('x', 100), circular)).toBe('memory_full');
    expect(engine.send('other', msg('x', 50), circular)).toBe('accepted');
    // Dropping m2 frees 100 and m3 (the stream cap) another 100, for 150: 50 more than before, over budget.
    expect(engine.send('s', msg('m5', 250), circular)).toBe('memory_full');
    expect(drainUuids('s')).toEqual(['m2', 'm3', 'm4']);
  });

  it('counts a blocked sender until its message is taken or it gives up', async () => {
    vi.useFakeTimers();
    createEngine(10_000, { maxStreamBytes: 100 });
    void engine.send('s', msg('m1', 100), blocking());
    const hangUp = new AbortController();
    const blocked = engine.send('s', msg('m2', 100), blocking());
    const gone = engine.send('s', msg('m3', 100), blocking(hangUp.signal));
    expect(engine.budget.used).toBe(300);
    hangUp.abort();
    expect(await gone).toBe('aborted');
    expect(engine.budget.used).toBe(200);
    expect(uuids(engine.receive('s', { timeoutMs: 0 }))).toEqual(['m1']);
    expect(await blocked).toBe('accepted'); // moved into the buffer: still held
    expect(engine.budget.used).toBe(100);
    const late = engine.send('s', msg('m4', 100), blocking());
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await late).toBe('timeout');
    expect(engine.budget.used).toBe(100);
  });

  it('refuses to park a blocked sender the budget has no room for', () => {
    createEngine(150, { maxStreamBytes: 100 });
    void engine.send('s', msg('m1', 100), blocking());
    expect(engine.send('s', msg('m2', 100), blocking())).toBe('memory_full');
    expect(engine.waiterCount).toBe(0);
  });

  it('counts a sync-match sender while it waits for a receiver', async () => {
    createEngine(1_000);
    const sent = engine.send('s', msg('m1', 400), { capacity: 0, blockingTimeoutMs: 1_000 });
    expect(engine.budget.used).toBe(400);
    expect(uuids(engine.receive('s', { timeoutMs: 0 }))).toEqual(['m1']);
    expect(await sent).toBe('accepted');
    expect(engine.budget.used).toBe(0);
  });

  it('holds messages given back to the head even beyond the budget: they were accepted once', () => {
    createEngine(200);
    void engine.send('s', msg('m1', 200), circular);
    const taken = engine.receive('s', { timeoutMs: 0 }) as StreamMessage[];
    void engine.send('s', msg('m2', 200), circular);
    engine.returnToHead('s', taken);
    expect(engine.budget.used).toBe(400);
    expect(drainUuids('s')).toEqual(['m1', 'm2']);
    expect(engine.budget.used).toBe(0);
  });

  it('keeps detached streams counted until handed over, and counts what it adopts', () => {
    createEngine(1_000);
    void engine.send('a', msg('m1', 300), circular);
    const [snapshot] = engine.detach(() => true);
    expect(engine.budget.used).toBe(300);
    engine.handedOver(snapshot.messages);
    expect(engine.budget.used).toBe(0);
    engine.adopt(snapshot);
    expect(engine.budget.used).toBe(300);
  });
});

describe('per-stream byte cap', () => {
  it('refuses a single message larger than the cap', () => {
    createEngine(10_000, { maxStreamBytes: 500 });
    expect(engine.send('s', msg('big', 501), circular)).toBe('too_large');
    expect(engine.send('s', msg('big', 501), blocking())).toBe('too_large');
    expect(engine.streamCount).toBe(1); // kept only until the idle sweep, like any empty stream
    expect(engine.send('s', msg('fits', 500), circular)).toBe('accepted');
  });

  it('a circular buffer evicts its oldest messages by bytes until the new one fits', () => {
    createEngine(10_000, { maxStreamBytes: 300 });
    for (let i = 0; i < 3; i++) void engine.send('s', msg(`m${i}`, 100), circular);
    expect(engine.send('s', msg('m3', 200), circular)).toBe('accepted');
    expect(drainUuids('s')).toEqual(['m2', 'm3']);
    expect(engine.budget.used).toBe(0);
  });

  it('a blocking queue waits until enough bytes are free, in order', async () => {
    createEngine(10_000, { maxStreamBytes: 300 });
    for (let i = 0; i < 3; i++) void engine.send('s', msg(`m${i}`, 100), blocking());
    const big = engine.send('s', msg('big', 200), blocking());
    const small = engine.send('s', msg('small', 10), blocking());
    expect(uuids(engine.receive('s', { timeoutMs: 0 }))).toEqual(['m0']); // 100 free: big does not fit yet
    expect(engine.waiterCount).toBe(2);
    expect(uuids(engine.receive('s', { timeoutMs: 0 }))).toEqual(['m1']); // 200 free: big, not small behind it
    expect(await big).toBe('accepted');
    expect(engine.waiterCount).toBe(1);
    expect(uuids(engine.receive('s', { timeoutMs: 0 }))).toEqual(['m2']);
    expect(await small).toBe('accepted');
    expect(drainUuids('s')).toEqual(['big', 'small']);
    expect(engine.budget.used).toBe(0);
  });
});

function drainUuids(streamId: string): string[] {
  const out: string[] = [];
  for (;;) {
    const outcome = engine.receive(streamId, { timeoutMs: 0 });
    if (!Array.isArray(outcome)) return out;
    out.push(...outcome.map((m) => m.messageUuid));
  }
}
