import { describe, expect, it } from 'vitest';
import { ParkedRead, StoredReadWaiters } from './stored-read-waiters.js';

const limits = { maxWaitersPerStream: 2, maxWaitersPerNode: 3 };

function park(waiters: StoredReadWaiters, streamId: string): ParkedRead {
  const parked = waiters.park(streamId);
  if (!(parked instanceof ParkedRead)) throw new Error(`not parked: ${parked}`);
  return parked;
}

describe('StoredReadWaiters', () => {
  it('wakes every reader of the stream, and only that stream', async () => {
    const waiters = new StoredReadWaiters(limits);
    const [a1, a2, b] = [park(waiters, 'a'), park(waiters, 'a'), park(waiters, 'b')];
    const outcomes = [a1.wait(5_000, undefined), a2.wait(5_000, undefined)];
    waiters.notify('a');
    expect(await Promise.all(outcomes)).toEqual(['stored', 'stored']);
    expect(waiters.size).toBe(1);
    b.leave();
    expect(waiters.size).toBe(0);
  });

  it('remembers a wake that came before the wait', async () => {
    const waiters = new StoredReadWaiters(limits);
    const parked = park(waiters, 'a');
    waiters.notify('a');
    expect(await parked.wait(5_000, undefined)).toBe('stored');
  });

  it('times out, and frees the slot', async () => {
    const waiters = new StoredReadWaiters(limits);
    const started = Date.now();
    expect(await park(waiters, 'a').wait(50, undefined)).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(waiters.size).toBe(0);
  });

  it('stops waiting when the client hangs up, before or during the wait', async () => {
    const waiters = new StoredReadWaiters(limits);
    const controller = new AbortController();
    const waiting = park(waiters, 'a').wait(5_000, controller.signal);
    controller.abort();
    expect(await waiting).toBe('aborted');
    expect(await park(waiters, 'a').wait(5_000, controller.signal)).toBe('aborted');
    expect(waiters.size).toBe(0);
  });

  it('refuses readers beyond the per-stream and per-node limits', () => {
    const waiters = new StoredReadWaiters(limits);
    park(waiters, 'a');
    park(waiters, 'a');
    expect(waiters.park('a')).toBe('too_many_waiters');
    park(waiters, 'b');
    expect(waiters.park('c')).toBe('too_many_waiters');
  });

  it('answers everyone at shutdown and parks no one after', async () => {
    const waiters = new StoredReadWaiters(limits);
    const waiting = [park(waiters, 'a').wait(5_000, undefined), park(waiters, 'b').wait(5_000, undefined)];
    waiters.close();
    expect(await Promise.all(waiting)).toEqual(['shutting_down', 'shutting_down']);
    expect(waiters.park('a')).toBe('shutting_down');
    expect(waiters.size).toBe(0);
  });

  it('answers readers of streams that moved away, and only those; later readers of them too', async () => {
    const waiters = new StoredReadWaiters({ maxWaitersPerStream: 5, maxWaitersPerNode: 10 });
    const owned = new Set(['b']);
    const a = [park(waiters, 'a').wait(5_000, undefined), park(waiters, 'a').wait(5_000, undefined)];
    const b = park(waiters, 'b');
    expect(waiters.moved((streamId) => !owned.has(streamId))).toBe(2);
    expect(await Promise.all(a)).toEqual(['moved', 'moved']);
    expect(waiters.size).toBe(1);
    // A read that began before the move parks after it: answered at once, not left waiting for writes elsewhere.
    expect(waiters.park('a')).toBe('moved');
    // The predicate is asked again at each park: a stream that comes back parks as before.
    owned.add('a');
    park(waiters, 'a').leave();
    waiters.notify('b');
    expect(await b.wait(5_000, undefined)).toBe('stored');
  });
});
