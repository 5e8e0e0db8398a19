import { describe, expect, it, vi } from 'vitest';
import {
  circular,
  blocking,
  syncMatch,
  SENT_AT,
  duplicateOf,
  uuids,
  msg,
  track,
  flush,
  drain,
  createEngine,
  engine,
  useEngineFixture,
} from './stream-engine.fixture.js';
import { type StreamMessage } from './types.js';

// The engine's modes: circular buffer, receive, blocking queue, sync match, dedup window.
useEngineFixture();

describe('circular buffer', () => {
  it('answers a send at once (never a promise) and keeps messages in FIFO order', () => {
    for (const id of ['a', 'b', 'c']) expect(engine.send('s', msg(id), circular())).toBe('accepted');
    expect(drain(engine, 's')).toEqual(['a', 'b', 'c']);
  });

  it('drops the oldest message when full', () => {
    for (let i = 1; i <= 5; i++) expect(engine.send('s', msg(`m${i}`), circular(3))).toBe('accepted');
    expect(engine.stats().bufferedMessages).toBe(3);
    expect(drain(engine, 's')).toEqual(['m3', 'm4', 'm5']);
  });

  it('with capacity 1 keeps only the newest message', () => {
    void engine.send('s', msg('m1'), circular(1));
    void engine.send('s', msg('m2'), circular(1));
    expect(drain(engine, 's')).toEqual(['m2']);
  });

  it('keeps the capacity of the first send; later sizes do not resize the stream', () => {
    void engine.send('s', msg('m1'), circular(2));
    for (let i = 2; i <= 4; i++) void engine.send('s', msg(`m${i}`), circular(100));
    expect(drain(engine, 's')).toEqual(['m3', 'm4']);
  });

  it('keeps message bodies and timestamps as sent, including null', () => {
    const bodies = [null, 0, 'text', false, [1, [2]], { nested: { a: null } }];
    bodies.forEach((body, i) => {
      void engine.send('s', { messageUuid: `m${i}`, message: body, timestamp: 1000 + i, bytes: 100 }, circular());
    });
    const received = engine.receive('s', { timeoutMs: 0, maxMessages: 10 }) as StreamMessage[];
    expect(received.map((m) => m.message)).toEqual(bodies);
    expect(received.map((m) => m.timestamp)).toEqual(bodies.map((_, i) => 1000 + i));
  });
});

describe('receive', () => {
  it('with timeout 0 answers at once: a message, or timeout', () => {
    expect(engine.receive('s', { timeoutMs: 0 })).toBe('timeout');
    void engine.send('s', msg('a'), circular());
    expect(uuids(engine.receive('s', { timeoutMs: 0 }))).toEqual(['a']);
    expect(engine.receive('s', { timeoutMs: 0 })).toBe('timeout');
  });

  it('waits for a message and is handed the next send directly', async () => {
    const receiver = track(engine.receive('s', { timeoutMs: 5_000 }));
    await flush();
    expect(receiver.settled).toBe(false);
    expect(engine.waiterCount).toBe(1);
    expect(engine.send('s', msg('a'), circular())).toBe('accepted');
    await flush();
    expect(uuids(receiver.value)).toEqual(['a']);
    expect(engine.stats()).toEqual({ streams: 1, waiters: 0, bufferedMessages: 0 });
  });

  it('times out after its timeout, not before', async () => {
    const receiver = track(engine.receive('s', { timeoutMs: 1_000 }));
    await vi.advanceTimersByTimeAsync(999);
    expect(receiver.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(receiver.value).toBe('timeout');
    expect(engine.waiterCount).toBe(0);
    // The timed-out receiver must not take a later message.
    void engine.send('s', msg('a'), circular());
    expect(drain(engine, 's')).toEqual(['a']);
  });

  it('competing receivers each get one message, the longest-waiting first', async () => {
    const receivers = [1, 2, 3].map(() => track(engine.receive('s', { timeoutMs: 5_000 })));
    for (const id of ['a', 'b', 'c', 'd']) void engine.send('s', msg(id), circular());
    await flush();
    expect(receivers.map((r) => uuids(r.value))).toEqual([['a'], ['b'], ['c']]);
    expect(drain(engine, 's')).toEqual(['d']);
  });

  it('takes up to maxMessages buffered messages, oldest first', () => {
    for (const id of ['a', 'b', 'c', 'd', 'e']) void engine.send('s', msg(id), circular());
    expect(uuids(engine.receive('s', { timeoutMs: 0, maxMessages: 3 }))).toEqual(['a', 'b', 'c']);
    expect(uuids(engine.receive('s', { timeoutMs: 0, maxMessages: 3 }))).toEqual(['d', 'e']);
  });

  it('streams are independent', () => {
    void engine.send('x', msg('x1'), circular());
    void engine.send('y', msg('y1'), circular());
    expect(drain(engine, 'y')).toEqual(['y1']);
    expect(drain(engine, 'x')).toEqual(['x1']);
  });
});

describe('blocking queue', () => {
  it('a send to a full queue waits, and is admitted when a receiver frees space', async () => {
    void engine.send('s', msg('m1'), blocking(2, 1_000));
    void engine.send('s', msg('m2'), blocking(2, 1_000));
    const third = track(engine.send('s', msg('m3'), blocking(2, 1_000)));
    await vi.advanceTimersByTimeAsync(500);
    expect(third.settled).toBe(false);
    expect(engine.waiterCount).toBe(1);
    expect(uuids(engine.receive('s', { timeoutMs: 0 }))).toEqual(['m1']);
    await flush();
    expect(third.value).toBe('accepted');
    expect(engine.waiterCount).toBe(0);
    expect(drain(engine, 's')).toEqual(['m2', 'm3']);
  });

  it('answers timeout (424) after the blocking timeout and keeps no trace of the message', async () => {
    void engine.send('s', msg('m1'), blocking(1, 1_000));
    const second = track(engine.send('s', msg('m2'), blocking(1, 1_000)));
    await vi.advanceTimersByTimeAsync(999);
    expect(second.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(second.value).toBe('timeout');
    expect(drain(engine, 's')).toEqual(['m1']);
    // Not remembered by the dedup window either: a retry is a new message.
    expect(engine.send('s', msg('m2'), blocking(1, 1_000))).toBe('accepted');
  });

  it('a retry blocked beside its original is answered as its duplicate once the original is in', async () => {
    void engine.send('s', msg('m1'), blocking(1, 5_000));
    const original = track(engine.send('s', msg('m2', 'first', SENT_AT + 1), blocking(1, 5_000)));
    const retry = track(engine.send('s', msg('m2', 'retry', SENT_AT + 2), blocking(1, 5_000)));
    const next = track(engine.send('s', msg('m3'), blocking(1, 5_000)));
    expect(uuids(engine.receive('s', { timeoutMs: 0 }))).toEqual(['m1']);
    await flush();
    expect(original.value).toBe('accepted');
    expect(retry.settled).toBe(false); // answered when it reaches the head of the blocked senders
    expect((engine.receive('s', { timeoutMs: 0 }) as StreamMessage[]).map((m) => m.message)).toEqual(['first']);
    await flush();
    expect(retry.value).toEqual(duplicateOf(SENT_AT + 1));
    expect(next.value).toBe('accepted');
    expect(drain(engine, 's')).toEqual(['m3']);
    expect(engine.waiterCount).toBe(0);
  });

  it('admits blocked senders in FIFO order as space opens, one per freed slot', async () => {
    void engine.send('s', msg('m1'), blocking(1, 5_000));
    const blocked = ['m2', 'm3', 'm4'].map((id) => track(engine.send('s', msg(id), blocking(1, 5_000))));
    expect(uuids(engine.receive('s', { timeoutMs: 0 }))).toEqual(['m1']);
    await flush();
    expect(blocked.map((b) => b.value)).toEqual(['accepted', undefined, undefined]);
    expect(drain(engine, 's')).toEqual(['m2', 'm3', 'm4']);
    await flush();
    expect(blocked.map((b) => b.value)).toEqual(['accepted', 'accepted', 'accepted']);
  });

  it('a batch receive passes through blocked senders in order', async () => {
    void engine.send('s', msg('m1'), blocking(2, 5_000));
    void engine.send('s', msg('m2'), blocking(2, 5_000));
    const blocked = ['m3', 'm4'].map((id) => track(engine.send('s', msg(id), blocking(2, 5_000))));
    expect(uuids(engine.receive('s', { timeoutMs: 0, maxMessages: 10 }))).toEqual(['m1', 'm2', 'm3', 'm4']);
    await flush();
    expect(blocked.map((b) => b.value)).toEqual(['accepted', 'accepted']);
  });

  it('a waiting receiver takes the send directly even in blocking mode', async () => {
    const receiver = track(engine.receive('s', { timeoutMs: 5_000 }));
    expect(engine.send('s', msg('m1'), blocking(1, 1_000))).toBe('accepted');
    await flush();
    expect(uuids(receiver.value)).toEqual(['m1']);
  });

  it('a blocked sender whose client hangs up is withdrawn and never delivered', async () => {
    void engine.send('s', msg('m1'), blocking(1, 5_000));
    const hangUp = new AbortController();
    const withdrawn = track(engine.send('s', msg('m2'), blocking(1, 5_000, hangUp.signal)));
    const kept = track(engine.send('s', msg('m3'), blocking(1, 5_000)));
    hangUp.abort();
    await flush();
    expect(withdrawn.value).toBe('aborted');
    expect(engine.waiterCount).toBe(1);
    expect(drain(engine, 's')).toEqual(['m1', 'm3']);
    await flush();
    expect(kept.value).toBe('accepted');
    // Withdrawn means not remembered: the client's retry is accepted as a new message.
    expect(engine.send('s', msg('m2'), blocking(1, 5_000))).toBe('accepted');
  });

  it('a send whose client has already hung up is not parked', async () => {
    void engine.send('s', msg('m1'), blocking(1, 5_000));
    const gone = new AbortController();
    gone.abort();
    const outcome = track(engine.send('s', msg('m2'), blocking(1, 5_000, gone.signal)));
    await flush();
    expect(outcome.value).toBe('aborted');
    expect(engine.waiterCount).toBe(0);
    expect(drain(engine, 's')).toEqual(['m1']);
  });
});

describe('sync match', () => {
  it('a send completes only when a receiver takes the message', async () => {
    const sender = track(engine.send('s', msg('m1'), syncMatch(5_000)));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sender.settled).toBe(false);
    expect(engine.stats().bufferedMessages).toBe(0);
    expect(uuids(engine.receive('s', { timeoutMs: 0 }))).toEqual(['m1']);
    await flush();
    expect(sender.value).toBe('accepted');
  });

  it('a send to a waiting receiver completes at once', async () => {
    const receiver = track(engine.receive('s', { timeoutMs: 5_000 }));
    expect(engine.send('s', msg('m1'), syncMatch(1_000))).toBe('accepted');
    await flush();
    expect(uuids(receiver.value)).toEqual(['m1']);
  });

  it('answers timeout when no receiver comes in time; a later receiver gets nothing', async () => {
    const sender = track(engine.send('s', msg('m1'), syncMatch(1_000)));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sender.value).toBe('timeout');
    expect(engine.receive('s', { timeoutMs: 0 })).toBe('timeout');
  });

  it('hands over blocked senders in FIFO order', async () => {
    const senders = ['m1', 'm2', 'm3'].map((id) => track(engine.send('s', msg(id), syncMatch(5_000))));
    expect(uuids(engine.receive('s', { timeoutMs: 0 }))).toEqual(['m1']);
    expect(uuids(engine.receive('s', { timeoutMs: 0, maxMessages: 5 }))).toEqual(['m2', 'm3']);
    await flush();
    expect(senders.map((s) => s.value)).toEqual(['accepted', 'accepted', 'accepted']);
  });

  it('a zero-second sync send on an existing stream is handed over or answered timeout at once', async () => {
    const first = track(engine.send('s', msg('m0'), syncMatch(1_000)));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(first.value).toBe('timeout');
    expect(engine.send('s', msg('m1'), { capacity: 0, blockingTimeoutMs: 0 })).toBe('timeout');
    const receiver = track(engine.receive('s', { timeoutMs: 5_000 }));
    expect(engine.send('s', msg('m2'), { capacity: 0, blockingTimeoutMs: 0 })).toBe('accepted');
    await flush();
    expect(uuids(receiver.value)).toEqual(['m2']);
  });
});

describe('dedup window', () => {
  it('answers a retried messageUuid duplicate and stores it once', () => {
    expect(engine.send('s', msg('u1', 'first'), circular())).toBe('accepted');
    expect(engine.send('s', msg('u1', 'second'), circular())).toEqual(duplicateOf());
    const received = engine.receive('s', { timeoutMs: 0, maxMessages: 10 }) as StreamMessage[];
    expect(received.map((m) => m.message)).toEqual(['first']);
  });

  it('still recognises the retry after the message was consumed', () => {
    void engine.send('s', msg('u1'), circular());
    drain(engine, 's');
    expect(engine.send('s', msg('u1'), circular())).toEqual(duplicateOf());
    expect(drain(engine, 's')).toEqual([]);
  });

  it('is per stream', () => {
    void engine.send('a', msg('u1'), circular());
    expect(engine.send('b', msg('u1'), circular())).toBe('accepted');
  });

  it('remembers exactly the last dedupWindow messageUuids', () => {
    createEngine({ dedupWindow: 3 });
    for (const id of ['u1', 'u2', 'u3', 'u4']) void engine.send('s', msg(id), circular());
    expect(engine.send('s', msg('u2'), circular())).toEqual(duplicateOf());
    expect(engine.send('s', msg('u4'), circular())).toEqual(duplicateOf());
    expect(engine.send('s', msg('u1'), circular())).toBe('accepted'); // fell out of the window
    // u1 took the oldest slot (u2's): u2 is forgotten now, u3 and u4 are not.
    expect(engine.send('s', msg('u3'), circular())).toEqual(duplicateOf());
    expect(engine.send('s', msg('u2'), circular())).toBe('accepted');
  });

  it('remembers exactly the last dedupWindow messageUuids of a busy stream too (indexed, not scanned)', () => {
    createEngine({ dedupWindow: 40 });
    for (let i = 0; i < 50; i++) void engine.send('s', msg(`u${i}`), circular(1000));
    for (let i = 0; i < 10; i++) expect(engine.send('t', msg(`u${i}`), circular())).toBe('accepted'); // other stream
    for (let i = 10; i < 50; i++)
      expect(engine.send('s', msg(`u${i}`), circular(1000)), `u${i}`).toEqual(duplicateOf());
    expect(engine.send('s', msg('u0'), circular(1000))).toBe('accepted'); // forgotten; takes u10's slot
    expect(engine.send('s', msg('u0'), circular(1000))).toEqual(duplicateOf());
    expect(engine.send('s', msg('u10'), circular(1000))).toBe('accepted');
    expect(engine.send('s', msg('u12'), circular(1000))).toEqual(duplicateOf());
  });

  it('with window 0 keeps no memory', () => {
    createEngine({ dedupWindow: 0 });
    void engine.send('s', msg('u1'), circular());
    expect(engine.send('s', msg('u1'), circular())).toBe('accepted');
    expect(drain(engine, 's')).toEqual(['u1', 'u1']);
  });

  it('covers messages handed to a waiting receiver and sync-matched ones', async () => {
    const receiver = track(engine.receive('s', { timeoutMs: 5_000 }));
    void engine.send('s', msg('u1'), circular());
    expect(engine.send('s', msg('u1'), circular())).toEqual(duplicateOf());
    const sender = track(engine.send('sync', msg('u2'), syncMatch(5_000)));
    void engine.receive('sync', { timeoutMs: 0 });
    await flush();
    expect(uuids(receiver.value)).toEqual(['u1']);
    expect(sender.value).toBe('accepted');
    expect(engine.send('sync', msg('u2'), syncMatch(5_000))).toEqual(duplicateOf());
  });

  it("answers a retry with the original's arrival time, however the original was taken", async () => {
    const retryAt = SENT_AT + 60_000;
    void engine.send('buffered', msg('b1', 'b1', SENT_AT + 1), circular());
    const receiver = track(engine.receive('handed', { timeoutMs: 5_000 }));
    void engine.send('handed', msg('h1', 'h1', SENT_AT + 2), circular());
    const synced = track(engine.send('sync', msg('s1', 's1', SENT_AT + 3), syncMatch(5_000)));
    void engine.receive('sync', { timeoutMs: 0 });
    void engine.send('full', msg('f1', 'f1', SENT_AT + 4), blocking(1, 5_000));
    const blocked = track(engine.send('full', msg('f2', 'f2', SENT_AT + 5), blocking(1, 5_000)));
    drain(engine, 'full'); // f1 out, the blocked f2 admitted
    await flush();
    expect([receiver.settled, synced.value, blocked.value]).toEqual([true, 'accepted', 'accepted']);

    expect(engine.send('buffered', msg('b1', 'b1', retryAt), circular())).toEqual(duplicateOf(SENT_AT + 1));
    expect(engine.send('handed', msg('h1', 'h1', retryAt), circular())).toEqual(duplicateOf(SENT_AT + 2));
    expect(engine.send('sync', msg('s1', 's1', retryAt), syncMatch(5_000))).toEqual(duplicateOf(SENT_AT + 3));
    expect(engine.send('full', msg('f1', 'f1', retryAt), blocking(1, 5_000))).toEqual(duplicateOf(SENT_AT + 4));
    expect(engine.send('full', msg('f2', 'f2', retryAt), blocking(1, 5_000))).toEqual(duplicateOf(SENT_AT + 5));
  });

  it("keeps each remembered messageUuid's own time as the ring turns, scanned and fingerprinted", () => {
    for (const window of [3, 40]) {
      createEngine({ dedupWindow: window });
      const sends = window + 10;
      for (let i = 0; i < sends; i++) void engine.send('s', msg(`u${i}`, i, SENT_AT + i), circular(1000));
      for (let i = sends - window; i < sends; i++) {
        expect(engine.send('s', msg(`u${i}`, i, SENT_AT + 99_999), circular(1000)), `window ${window} u${i}`).toEqual(
          duplicateOf(SENT_AT + i),
        );
      }
    }
  });
});
