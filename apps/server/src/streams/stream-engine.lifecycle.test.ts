import { describe, expect, it, vi } from 'vitest';
import { StreamEngine } from './stream-engine.js';
import {
  LIMITS,
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
  withNewOwner,
  createEngine,
  engine,
  advance,
  replaceEngine,
  useEngineFixture,
} from './stream-engine.fixture.js';
import { PARKED, type ReceiveOutcome, type StreamMessage, type WaitListener } from './types.js';

// The engine around its modes: aborts, returns, listeners, limits, eviction, hand-off, close, memory.
useEngineFixture();

describe('abort of a waiting receiver', () => {
  it('releases the waiter and does not swallow the next message', async () => {
    const hangUp = new AbortController();
    const gone = track(engine.receive('s', { timeoutMs: 5_000, signal: hangUp.signal }));
    hangUp.abort();
    await flush();
    expect(gone.value).toBe('aborted');
    expect(engine.waiterCount).toBe(0);
    void engine.send('s', msg('m1'), circular());
    expect(drain(engine, 's')).toEqual(['m1']);
  });

  it('an already-aborted receive does not park', () => {
    const hangUp = new AbortController();
    hangUp.abort();
    expect(engine.receive('s', { timeoutMs: 5_000, signal: hangUp.signal })).toBe('aborted');
    expect(engine.waiterCount).toBe(0);
  });

  it('aborting one of several receivers keeps the others in their order', async () => {
    const hangUp = new AbortController();
    const first = track(engine.receive('s', { timeoutMs: 5_000 }));
    const gone = track(engine.receive('s', { timeoutMs: 5_000, signal: hangUp.signal }));
    const third = track(engine.receive('s', { timeoutMs: 5_000 }));
    hangUp.abort();
    void engine.send('s', msg('a'), circular());
    void engine.send('s', msg('b'), circular());
    await flush();
    expect([uuids(first.value), gone.value, uuids(third.value)]).toEqual([['a'], 'aborted', ['b']]);
  });

  it('an abort after the receiver was answered changes nothing', async () => {
    const hangUp = new AbortController();
    const receiver = track(engine.receive('s', { timeoutMs: 5_000, signal: hangUp.signal }));
    void engine.send('s', msg('a'), circular());
    hangUp.abort();
    await flush();
    expect(uuids(receiver.value)).toEqual(['a']);
    expect(engine.waiterCount).toBe(0);
  });
});

describe('returnToHead', () => {
  it('puts returned messages in front of the buffered ones, in their order', () => {
    for (const id of ['m1', 'm2', 'm3', 'm4']) void engine.send('s', msg(id), circular());
    const taken = engine.receive('s', { timeoutMs: 0, maxMessages: 2 }) as StreamMessage[];
    engine.returnToHead('s', taken);
    expect(drain(engine, 's')).toEqual(['m1', 'm2', 'm3', 'm4']);
  });

  it('hands a returned message to a receiver already waiting', async () => {
    void engine.send('s', msg('m1'), circular());
    const taken = engine.receive('s', { timeoutMs: 0 }) as StreamMessage[];
    const receiver = track(engine.receive('s', { timeoutMs: 5_000, maxMessages: 5 }));
    engine.returnToHead('s', taken);
    await flush();
    expect(uuids(receiver.value)).toEqual(['m1']);
  });

  it('may exceed the capacity for a moment rather than lose a message', () => {
    void engine.send('s', msg('m1'), circular(1));
    const taken = engine.receive('s', { timeoutMs: 0 }) as StreamMessage[];
    void engine.send('s', msg('m2'), circular(1));
    engine.returnToHead('s', taken);
    expect(drain(engine, 's')).toEqual(['m1', 'm2']);
  });

  it('recreates a stream evicted in the meantime', () => {
    void engine.send('s', msg('m1'), circular());
    const taken = engine.receive('s', { timeoutMs: 0 }) as StreamMessage[];
    advance(LIMITS.idleEvictionMs);
    engine.evictIdle();
    expect(engine.streamCount).toBe(0);
    engine.returnToHead('s', taken);
    expect(drain(engine, 's')).toEqual(['m1']);
  });
});

describe('receiveOrPark (a listener instead of a promise)', () => {
  /** A listener that notes each outcome it hears, and may act on it from inside the engine's call. */
  function listener(
    onSettled?: (outcome: ReceiveOutcome) => void,
  ): WaitListener<ReceiveOutcome> & { heard: ReceiveOutcome[] } {
    const heard: ReceiveOutcome[] = [];
    return {
      heard,
      settled(outcome) {
        heard.push(outcome);
        onSettled?.(outcome);
      },
    };
  }

  it('answers buffered messages at once and never calls the listener for them', () => {
    void engine.send('s', msg('m1'), circular());
    const heard = listener();
    expect(uuids(engine.receiveOrPark('s', { timeoutMs: 5_000 }, heard) as ReceiveOutcome)).toEqual(['m1']);
    expect(heard.heard).toEqual([]);
  });

  it('parks, then tells the listener once: a message handed over by a send', () => {
    const heard = listener();
    expect(engine.receiveOrPark('s', { timeoutMs: 5_000 }, heard)).toBe(PARKED);
    expect(heard.heard).toEqual([]);
    void engine.send('s', msg('m1'), circular());
    expect(heard.heard.map(uuids)).toEqual([['m1']]);
    vi.advanceTimersByTime(10_000);
    expect(heard.heard).toHaveLength(1);
    expect(engine.waiterCount).toBe(0);
  });

  it('parks, then tells the listener of its timeout', () => {
    const heard = listener();
    engine.receiveOrPark('s', { timeoutMs: 1_000 }, heard);
    vi.advanceTimersByTime(999);
    expect(heard.heard).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(heard.heard).toEqual(['timeout']);
  });

  it('keeps order when a listener hands its message back from inside the send (its client had gone)', () => {
    const gone = listener((outcome) => engine.returnToHead('s', outcome as StreamMessage[]));
    const next = listener();
    engine.receiveOrPark('s', { timeoutMs: 5_000 }, gone);
    engine.receiveOrPark('s', { timeoutMs: 5_000 }, next);
    expect(engine.send('s', msg('m1'), circular())).toBe('accepted');
    void engine.send('s', msg('m2'), circular());
    expect(next.heard.map(uuids)).toEqual([['m1']]);
    expect(drain(engine, 's')).toEqual(['m2']);
    expect(engine.waiterCount).toBe(0);
  });

  it('keeps order when the only listener hands a message back during an adopt', () => {
    const gone = listener((outcome) => engine.returnToHead('s', outcome as StreamMessage[]));
    engine.receiveOrPark('s', { timeoutMs: 5_000 }, gone);
    engine.adopt({ streamId: 's', capacity: 10, messages: [msg('m1'), msg('m2'), msg('m3')], recentUuids: [] });
    expect(drain(engine, 's')).toEqual(['m1', 'm2', 'm3']);
  });
});

describe('waiter limits', () => {
  it('refuses a receiver beyond maxWaitersPerStream, counting blocked senders too', async () => {
    createEngine({ maxWaitersPerStream: 2 });
    void engine.send('s', msg('m1'), blocking(1, 5_000));
    const blocked = ['m2', 'm3'].map((id) => track(engine.send('s', msg(id), blocking(1, 5_000))));
    expect(engine.send('s', msg('m4'), blocking(1, 5_000))).toBe('too_many_waiters');
    expect(engine.waiterCount).toBe(2);
    // The refused send left no trace.
    expect(drain(engine, 's')).toEqual(['m1', 'm2', 'm3']);
    await flush();
    expect(blocked.map((b) => b.value)).toEqual(['accepted', 'accepted']);

    const waiting = [
      track(engine.receive('s', { timeoutMs: 5_000 })),
      track(engine.receive('s', { timeoutMs: 5_000 })),
    ];
    expect(engine.receive('s', { timeoutMs: 5_000 })).toBe('too_many_waiters');
    const other = track(engine.receive('other', { timeoutMs: 5_000 }));
    await flush();
    expect(other.settled).toBe(false);
    void engine.send('s', msg('m5'), circular());
    await flush();
    expect(uuids(waiting[0].value)).toEqual(['m5']);
    // A slot freed by an answered waiter can be used again.
    const again = track(engine.receive('s', { timeoutMs: 5_000 }));
    await flush();
    expect(again.settled).toBe(false);
  });

  it('refuses a waiter beyond maxWaitersPerNode across streams, and frees slots on timeout', async () => {
    createEngine({ maxWaitersPerNode: 3 });
    const waiting = ['a', 'b', 'c'].map((id) => track(engine.receive(id, { timeoutMs: 1_000 })));
    expect(engine.receive('d', { timeoutMs: 1_000 })).toBe('too_many_waiters');
    void engine.send('e', msg('m1'), syncMatch(1_000)); // blocked sends count as waiters too
    expect(engine.waiterCount).toBe(3);
    // Not waiting does not need a slot.
    expect(engine.send('d', msg('m1'), circular())).toBe('accepted');
    expect(uuids(engine.receive('d', { timeoutMs: 1_000 }))).toEqual(['m1']);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(waiting.map((w) => w.value)).toEqual(['timeout', 'timeout', 'timeout']);
    expect(engine.waiterCount).toBe(0);
    const later = track(engine.receive('d', { timeoutMs: 1_000 }));
    await flush();
    expect(later.settled).toBe(false);
  });

  it('answers too_many_waiters for a sync send beyond the limits', () => {
    createEngine({ maxWaitersPerNode: 1 });
    void engine.receive('a', { timeoutMs: 1_000 });
    expect(engine.send('b', msg('m1'), syncMatch(1_000))).toBe('too_many_waiters');
  });
});

describe('maxStreams', () => {
  it('refuses a send that would create one stream too many, but serves existing ones', () => {
    createEngine({ maxStreams: 2 });
    expect(engine.send('a', msg('m1'), circular())).toBe('accepted');
    expect(engine.send('b', msg('m1'), circular())).toBe('accepted');
    expect(engine.send('c', msg('m1'), circular())).toBe('too_many_streams');
    expect(engine.receive('c', { timeoutMs: 1_000 })).toBe('too_many_streams');
    expect(engine.send('a', msg('m2'), circular())).toBe('accepted');
    expect(engine.streamCount).toBe(2);
  });

  it('has room again once idle streams are evicted', () => {
    createEngine({ maxStreams: 1 });
    void engine.send('a', msg('m1'), circular());
    drain(engine, 'a');
    advance(LIMITS.idleEvictionMs);
    engine.evictIdle();
    expect(engine.send('b', msg('m1'), circular())).toBe('accepted');
  });
});

describe('idle eviction', () => {
  it('evicts a stream idleEvictionMs after it became empty, and forgets its dedup memory then', () => {
    void engine.send('s', msg('u1'), circular());
    drain(engine, 's');
    advance(LIMITS.idleEvictionMs - 1);
    engine.evictIdle();
    expect(engine.streamCount).toBe(1);
    expect(engine.send('s', msg('u1'), circular())).toEqual(duplicateOf());
    advance(1);
    engine.evictIdle();
    expect(engine.streamCount).toBe(0);
    expect(engine.send('s', msg('u1'), circular())).toBe('accepted');
  });

  it('never evicts a stream holding a message', () => {
    void engine.send('s', msg('m1'), circular());
    advance(LIMITS.idleEvictionMs * 10);
    engine.evictIdle();
    expect(drain(engine, 's')).toEqual(['m1']);
  });

  it('never evicts a stream with a waiting receiver or blocked sender', async () => {
    const receiver = track(engine.receive('r', { timeoutMs: 600_000 }));
    const sender = track(engine.send('b', msg('m1'), syncMatch(600_000)));
    advance(LIMITS.idleEvictionMs * 5);
    engine.evictIdle();
    expect(engine.streamCount).toBe(2);
    void engine.send('r', msg('m2'), circular());
    void engine.receive('b', { timeoutMs: 0 });
    await flush();
    expect(uuids(receiver.value)).toEqual(['m2']);
    expect(sender.value).toBe('accepted');
  });

  it('restarts the idle period when a stream is used again', () => {
    void engine.send('s', msg('m1'), circular());
    drain(engine, 's');
    advance(LIMITS.idleEvictionMs / 2);
    void engine.send('s', msg('m2'), circular());
    drain(engine, 's');
    advance(LIMITS.idleEvictionMs / 2);
    engine.evictIdle();
    expect(engine.streamCount).toBe(1);
    advance(LIMITS.idleEvictionMs / 2);
    engine.evictIdle();
    expect(engine.streamCount).toBe(0);
  });

  it('evicts streams created by receivers that timed out or hung up', async () => {
    const hangUp = new AbortController();
    void engine.receive('timed-out', { timeoutMs: 1_000 });
    void engine.receive('hung-up', { timeoutMs: 10_000, signal: hangUp.signal });
    void engine.receive('polled', { timeoutMs: 0 }); // creates nothing
    hangUp.abort();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(engine.streamCount).toBe(2);
    advance(LIMITS.idleEvictionMs);
    engine.evictIdle();
    expect(engine.streamCount).toBe(0);
  });

  it('evicts a stream whose messages went straight to waiting receivers', async () => {
    const receiver = track(engine.receive('handed', { timeoutMs: 5_000 }));
    void engine.send('handed', msg('m1'), circular());
    const syncReceiver = track(engine.receive('sync', { timeoutMs: 5_000 }));
    void engine.send('sync', msg('m1'), syncMatch(1_000));
    await flush();
    expect(uuids(receiver.value)).toEqual(['m1']);
    expect(uuids(syncReceiver.value)).toEqual(['m1']);
    advance(LIMITS.idleEvictionMs);
    engine.evictIdle();
    expect(engine.streamCount).toBe(0);
  });

  it('evicts a stream adopted straight into waiting receivers', async () => {
    void engine.send('s', msg('m1'), circular());
    const [snapshot] = engine.detach(() => true);
    await withNewOwner(async (next) => {
      const receiver = track(next.receive('s', { timeoutMs: 5_000 }));
      next.adopt(snapshot);
      await flush();
      expect(uuids(receiver.value)).toEqual(['m1']);
      advance(LIMITS.idleEvictionMs);
      next.evictIdle();
      expect(next.streamCount).toBe(0);
    });
  });

  it('evicts streams of sends that timed out or were refused', async () => {
    createEngine({ maxWaitersPerNode: 1 });
    void engine.send('timed-out', msg('m1'), syncMatch(1_000));
    expect(engine.send('refused', msg('m1'), syncMatch(1_000))).toBe('too_many_waiters');
    await vi.advanceTimersByTimeAsync(1_000);
    advance(LIMITS.idleEvictionMs);
    engine.evictIdle();
    expect(engine.streamCount).toBe(0);
  });

  it('runs by itself on a timer', async () => {
    engine.close();
    // The engine's own clock defaults to Date.now, which the fake timers move.
    replaceEngine(new StreamEngine({ ...LIMITS, idleEvictionMs: 1_000 }));
    for (let i = 0; i < 1_000; i++) {
      void engine.send(`s${i}`, msg('m'), circular());
      void engine.receive(`s${i}`, { timeoutMs: 0 });
    }
    void engine.send('kept', msg('m'), circular());
    expect(engine.streamCount).toBe(1_001);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(engine.streamCount).toBe(1);
  });
});

describe('detach and adopt (hand-off to a new owner)', () => {
  it('detach removes the selected streams and returns their messages in order with capacity and dedup memory', async () => {
    for (const id of ['m1', 'm2', 'm3']) void engine.send('moving', msg(id), circular(5));
    drain(engine, 'moving'); // consume all three ...
    void engine.send('moving', msg('m4', 'm4', SENT_AT + 4), circular(5)); // ... and buffer two more
    void engine.send('moving', msg('m5', 'm5', SENT_AT + 5), circular(5));
    void engine.send('staying', msg('x1'), circular());
    const waiter = track(engine.receive('moving-empty', { timeoutMs: 5_000 }));
    const sender = track(engine.send('moving-sync', msg('s1'), syncMatch(5_000)));

    const snapshots = engine.detach((id) => id.startsWith('moving'));
    await flush();
    // Not shutting down: the stream moved, and the clients ask again through the cluster.
    expect([waiter.value, sender.value]).toEqual(['moved', 'moved']);
    expect(snapshots).toHaveLength(1); // an empty stream has nothing to hand over
    const [snapshot] = snapshots;
    expect(snapshot.streamId).toBe('moving');
    expect(snapshot.capacity).toBe(5);
    expect(snapshot.messages.map((m) => m.messageUuid)).toEqual(['m4', 'm5']);
    expect(snapshot.recentUuids).toEqual(expect.arrayContaining(['m1', 'm2', 'm3', 'm4', 'm5']));
    expect(engine.streamCount).toBe(1);
    expect(drain(engine, 'staying')).toEqual(['x1']);

    await withNewOwner((next) => {
      void next.send('moving', msg('n1'), circular(5)); // arrived at the new owner first
      next.adopt(snapshot);
      // Handed-over messages and the uuids of consumed ones keep their times: a retry gets the original's.
      expect(next.send('moving', msg('m4', 'm4', SENT_AT + 60_000), circular())).toEqual(duplicateOf(SENT_AT + 4));
      expect(next.send('moving', msg('m1', 'm1', SENT_AT + 60_000), circular())).toEqual(duplicateOf(SENT_AT));
      expect(drain(next, 'moving')).toEqual(['n1', 'm4', 'm5']);
    });
    // From a node that hands uuids over without their times, a retry of a consumed one gets its own.
    await withNewOwner((next) => {
      next.adopt({ ...snapshot, recentTimestamps: undefined });
      expect(next.send('moving', msg('m1', 'm1', SENT_AT + 60_000), circular())).toEqual(duplicateOf(SENT_AT + 60_000));
      expect(next.send('moving', msg('m4', 'm4', SENT_AT + 60_000), circular())).toEqual(duplicateOf(SENT_AT + 4));
    });
  });

  it('adopt hands messages to receivers already waiting at the new owner, keeping the capacity', async () => {
    void engine.send('s', msg('m1'), circular(2));
    void engine.send('s', msg('m2'), circular(2));
    const [snapshot] = engine.detach(() => true);
    await withNewOwner(async (next) => {
      const receiver = track(next.receive('s', { timeoutMs: 5_000 }));
      next.adopt(snapshot);
      await flush();
      expect(uuids(receiver.value)).toEqual(['m1']);
      void next.send('s', msg('m3'), circular(100));
      void next.send('s', msg('m4'), circular(100));
      expect(drain(next, 's')).toEqual(['m3', 'm4']); // capacity 2 came with the snapshot
    });
  });
});

describe('close (SIGTERM)', () => {
  it('answers every waiting receiver and blocked sender shutting_down', async () => {
    const receivers = ['a', 'a', 'b'].map((id) => track(engine.receive(id, { timeoutMs: 60_000 })));
    void engine.send('q', msg('m1'), blocking(1, 60_000));
    const senders = [
      track(engine.send('q', msg('m2'), blocking(1, 60_000))),
      track(engine.send('sync', msg('m3'), syncMatch(60_000))),
    ];
    engine.close();
    await flush();
    expect([...receivers, ...senders].map((w) => w.value)).toEqual(Array(5).fill('shutting_down'));
    expect(engine.waiterCount).toBe(0);
  });

  it('afterwards answers at once: buffered messages still, else shutting_down; no new waits', () => {
    void engine.send('q', msg('m1'), circular());
    engine.close();
    expect(uuids(engine.receive('q', { timeoutMs: 60_000 }))).toEqual(['m1']);
    expect(engine.receive('q', { timeoutMs: 60_000 })).toBe('shutting_down');
    expect(engine.receive('new', { timeoutMs: 60_000 })).toBe('shutting_down');
    expect(engine.send('q', msg('m2'), blocking(1, 60_000))).toBe('shutting_down');
    expect(engine.send('new', msg('m2'), syncMatch(60_000))).toBe('shutting_down');
    expect(engine.stats()).toEqual({ streams: 1, waiters: 0, bufferedMessages: 0 });
  });
});

describe('memory', () => {
  it('a stream holding one message does not preallocate its capacity', () => {
    const streams = 5_000;
    createEngine({ maxStreams: streams });
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < streams; i++) void engine.send(`stream-${i}`, msg('m'), circular(10_000));
    const perStream = (process.memoryUsage().heapUsed - before) / streams;
    console.info(`heap per stream holding one message (capacity 10,000): ${Math.round(perStream)} bytes`);
    // A preallocated 10,000-slot array alone would be 80 kB per stream; a lazily grown one is a few hundred bytes.
    expect(perStream).toBeLessThan(2_000);
    expect(engine.stats()).toEqual({ streams, waiters: 0, bufferedMessages: streams });
  });
});
