import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ResumeTokens } from './resume-token.js';
import { SqlMessageStore } from './sql/sql-message-store.js';
import { StoredReadWaiters } from './stored-read-waiters.js';
import { StoredStreams, type StoredRead, type StoredReadOutcome } from './stored-streams.js';

describe('StoredStreams on SQLite', () => {
  let directory: string;
  let store: SqlMessageStore;
  let stored: StoredStreams;
  const tokens = new ResumeTokens('test-secret');

  beforeEach(async () => {
    directory = mkdtempSync(join(tmpdir(), 'ipubsub-stored-'));
    store = await SqlMessageStore.open({ type: 'sqlite', directory });
    stored = new StoredStreams(
      store,
      tokens,
      new StoredReadWaiters({ maxWaitersPerStream: 10, maxWaitersPerNode: 100 }),
    );
  });

  afterEach(async () => {
    stored.stopWaiting();
    await store.close();
    rmSync(directory, { recursive: true, force: true });
  });

  const send = (streamId: string, uuid: string, ttlSeconds = 60) =>
    stored.send(streamId, uuid, { uuid }, ttlSeconds, Date.now());
  const delivered = (outcome: StoredReadOutcome): StoredRead => {
    if (typeof outcome !== 'object') throw new Error(`expected messages, got ${outcome}`);
    return outcome;
  };

  it('reads from the oldest, then from each token, without consuming', async () => {
    for (const uuid of ['a', 'b', 'c']) await send('s', uuid);
    const first = delivered(await stored.read('s', undefined, 2, 0));
    expect(first.messages.map((m) => [m.messageUuid, JSON.parse(m.messageJson) as unknown])).toEqual([
      ['a', { uuid: 'a' }],
      ['b', { uuid: 'b' }],
    ]);
    const rest = delivered(await stored.read('s', first.token, 10, 0));
    expect(rest.messages.map((m) => m.messageUuid)).toEqual(['c']);
    expect(await stored.read('s', rest.token, 10, 0)).toBe('timeout');
    expect(delivered(await stored.read('s', undefined, 10, 0)).messages).toHaveLength(3);
  });

  it('wakes a reader waiting at the end as soon as a message is stored', async () => {
    await send('s', 'a');
    const { token } = delivered(await stored.read('s', undefined, 1, 0));
    const started = Date.now();
    const waiting = stored.read('s', token, 10, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stored.waitingReaders).toBe(1);
    await send('s', 'b');
    const woken = delivered(await waiting);
    expect(woken.messages.map((m) => m.messageUuid)).toEqual(['b']);
    // Woken by the store, not found when the 60 s wait ran out (the test's own timeout is 30 s).
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(stored.waitingReaders).toBe(0);
  });

  it('does not wake readers of other streams, and times out', async () => {
    const started = Date.now();
    const waiting = stored.read('quiet', undefined, 1, 300);
    await send('loud', 'x');
    expect(await waiting).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('refuses tokens of other streams, tampered tokens, and well-signed positions the store cannot read', async () => {
    await send('s', 'a');
    const { token } = delivered(await stored.read('s', undefined, 1, 0));
    expect(await stored.read('other', token, 1, 0)).toBe('invalid_token');
    expect(await stored.read('s', `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, 1, 0)).toBe(
      'invalid_token',
    );
    expect(await stored.read('s', tokens.issue('s', Buffer.from('cassandra-position')), 1, 10_000)).toBe(
      'invalid_token',
    );
  });

  it('says when the messages after a token expired', async () => {
    await send('s', 'a');
    await send('s', 'short-lived', 1);
    await send('s', 'c');
    const { token } = delivered(await stored.read('s', undefined, 1, 0));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const next = delivered(await stored.read('s', token, 10, 0));
    expect(next.messages.map((m) => m.messageUuid)).toEqual(['c']);
    expect(next.gap).toBe(true);
  });

  it('answers waiting readers when the node stops', async () => {
    const waiting = stored.read('s', undefined, 1, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    stored.stopWaiting();
    expect(await waiting).toBe('shutting_down');
    expect(await stored.read('s', undefined, 1, 10_000)).toBe('shutting_down');
  });

  it('answers a waiting reader `moved` when its stream moves to another node', async () => {
    const waiting = stored.read('leaving', undefined, 1, 10_000);
    const staying = stored.read('staying', undefined, 1, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stored.releaseMovedReaders((streamId) => streamId === 'leaving')).toBe(1);
    expect(await waiting).toBe('moved'); // at the end of its wait it would say 'timeout'
    expect(stored.waitingReaders).toBe(1);
    await send('staying', 'x');
    expect(delivered(await staying).messages.map((m) => m.messageUuid)).toEqual(['x']);
    // With messages to read, a reader of a moved stream still gets them: only the wait is refused.
    await send('leaving', 'y');
    const found = delivered(await stored.read('leaving', undefined, 1, 10_000));
    expect(found.messages.map((m) => m.messageUuid)).toEqual(['y']);
    expect(await stored.read('leaving', found.token, 1, 10_000)).toBe('moved');
  });
});
