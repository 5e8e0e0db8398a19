import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GROUP_COMMIT_LIMITS, GroupCommit } from './group-commit.js';
import { StoreUnavailableError, type NewMessage } from './message-store.js';
import { SqlMessageStore } from './sql/sql-message-store.js';

describe('GroupCommit on SQLite', () => {
  let directory: string;
  let store: SqlMessageStore;
  let batches: number[];
  let batchStreams: string[][];

  beforeEach(async () => {
    directory = mkdtempSync(join(tmpdir(), 'ipubsub-group-'));
    store = await SqlMessageStore.open({ type: 'sqlite', directory });
    batches = [];
    batchStreams = [];
  });

  afterEach(async () => {
    await store.close();
    rmSync(directory, { recursive: true, force: true });
  });

  const message = (streamId: string, uuid: string): NewMessage => ({
    streamId,
    messageUuid: uuid,
    messageJson: JSON.stringify(uuid),
    timestamp: Date.now(),
    expiresAt: Date.now() + 60_000,
  });
  const committer = (limits = GROUP_COMMIT_LIMITS, concurrency = 1): GroupCommit =>
    new GroupCommit(
      store,
      (stored) => {
        batches.push(stored.length);
        batchStreams.push(stored.map((m) => m.streamId));
      },
      limits,
      concurrency,
    );
  const stored = async (streamId: string): Promise<string[]> =>
    (await store.readAfter(streamId, null, 1000, Date.now())).messages.map((m) => m.messageUuid);

  it('commits concurrent sends in a few transactions, each stream in call order', async () => {
    const commits = committer();
    const sends = Array.from({ length: 300 }, (_, i) => commits.append(message(`s${i % 3}`, `m${i}`)));
    const results = await Promise.all(sends);
    expect(results.every((r) => !r.duplicate)).toBe(true);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(300);
    expect(batches.length).toBeLessThan(5);
    for (let s = 0; s < 3; s++) {
      expect(await stored(`s${s}`)).toEqual(Array.from({ length: 100 }, (_, i) => `m${i * 3 + s}`));
    }
  });

  it('answers a retry in the same batch as a duplicate with the original timestamp', async () => {
    const commits = committer();
    const [first, retry] = await Promise.all([
      commits.append(message('s', 'm')),
      commits.append({ ...message('s', 'm'), timestamp: 1 }),
    ]);
    expect(first.duplicate).toBe(false);
    expect(retry).toEqual({ duplicate: true, timestamp: first.timestamp });
    expect(batches).toEqual([1]);
    expect(await stored('s')).toEqual(['m']);
  });

  it('splits batches at the message and byte limits', async () => {
    const commits = committer({ maxBatchMessages: 10, maxBatchBytes: 100, maxPending: 1000 });
    await Promise.all(Array.from({ length: 25 }, (_, i) => commits.append(message('s', `m${i}`))));
    expect(batches).toEqual([10, 10, 5]);
    batches = [];
    const big = { ...message('s', 'big'), messageJson: JSON.stringify('x'.repeat(150)) };
    await Promise.all([commits.append(message('s', 'a')), commits.append(big), commits.append(message('s', 'b'))]);
    expect(batches).toEqual([1, 1, 1]);
  });

  it("runs batches of different streams side by side, and a stream's batches one after another", async () => {
    const commits = committer(GROUP_COMMIT_LIMITS, 2);
    const first = commits.append(message('a', 'a1'));
    await new Promise((resolve) => setImmediate(resolve)); // [a1] is in flight
    const rest = [
      commits.append(message('a', 'a2')),
      commits.append(message('b', 'b1')),
      commits.append(message('a', 'a3')),
    ];
    await Promise.all([first, ...rest]);
    expect(batchStreams).toEqual([['a'], ['b'], ['a', 'a']]);
    expect(await stored('a')).toEqual(['a1', 'a2', 'a3']);
    await commits.idle();
  });

  it('settled() waits for the sends accepted before it, not for those that keep arriving after', async () => {
    const commits = committer(GROUP_COMMIT_LIMITS, 1);
    const before = [commits.append(message('a', 'a1')), commits.append(message('b', 'b1'))];
    await new Promise((resolve) => setImmediate(resolve)); // a batch is in flight
    before.push(commits.append(message('a', 'a2')));
    let beforeDone = 0;
    for (const send of before) void send.then(() => beforeDone++);
    let settled: boolean | 'too early' = false;
    void commits.settled().then(() => (settled = beforeDone === before.length ? true : 'too early'));
    const later: Promise<unknown>[] = [];
    // A steady stream of sends: there is always one waiting, so idle() would not resolve within this loop.
    for (let n = 0; settled === false && n < 2_000; n++) {
      later.push(commits.append(message('c', `c${n}`)));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(settled).toBe(true);
    await Promise.all(later);
    expect(await stored('a')).toEqual(['a1', 'a2']);
  });

  it('refuses sends beyond maxPending instead of queueing them', async () => {
    const commits = committer({ maxBatchMessages: 10, maxBatchBytes: 1 << 20, maxPending: 5 });
    const accepted = Array.from({ length: 5 }, (_, i) => commits.append(message('s', `m${i}`)));
    await expect(commits.append(message('s', 'one too many'))).rejects.toBeInstanceOf(StoreUnavailableError);
    await Promise.all(accepted);
    await commits.idle();
    expect(await stored('s')).toHaveLength(5);
  });

  it('rejects every send of a batch the store fails, and stores none of it', async () => {
    const commits = committer();
    await store.close();
    const failed = await Promise.allSettled([commits.append(message('s', 'a')), commits.append(message('s', 'b'))]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    store = await SqlMessageStore.open({ type: 'sqlite', directory });
    const retried = new GroupCommit(store, () => undefined);
    expect((await retried.append(message('s', 'a'))).duplicate).toBe(false);
  });
});
