import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeldMessage, MessageStore, NewMessage } from '../message-store.js';
import { SqlMessageStore } from './sql-message-store.js';

const DAY = 86_400_000;

/** Two nodes' embedded stores: a stream's messages copied from one to the other keep their positions. */
describe('SQLite copies between nodes', () => {
  const directories: string[] = [];
  let from: MessageStore;
  let to: MessageStore;

  const open = (): Promise<SqlMessageStore> => {
    const directory = mkdtempSync(join(tmpdir(), 'ipubsub-copies-'));
    directories.push(directory);
    return SqlMessageStore.open({ type: 'sqlite', directory });
  };
  const message = (streamId: string, n: number): NewMessage => ({
    streamId,
    messageUuid: n === 2 ? 'id\u0000with "quotes"' : `m-${n}`,
    messageJson: JSON.stringify({ n }),
    timestamp: 1_000 + n,
    expiresAt: Date.now() + DAY,
  });
  /** Everything `store` holds, listed in pages of `page`. */
  const listAll = async (store: MessageStore, page: number): Promise<HeldMessage[]> => {
    const all: HeldMessage[] = [];
    for (;;) {
      const last = all.at(-1);
      const next = await store.copies!.list(
        last === undefined ? null : { streamId: last.streamId, seq: last.seq },
        page,
      );
      if (next.length === 0) return all;
      all.push(...next);
    }
  };

  beforeAll(async () => {
    [from, to] = await Promise.all([open(), open()]);
  });
  afterAll(async () => {
    await Promise.all([from?.close(), to?.close()]);
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  });

  it('lists every stream in order, pages included, and copies them once', async () => {
    await from.append([1, 2, 3].map((n) => message('b', n)));
    await from.append([1, 2].map((n) => message('a', n)));
    const held = await listAll(from, 2);
    expect(held.map((m) => `${m.streamId}:${m.messageUuid}`)).toEqual([
      'a:m-1',
      'a:id\u0000with "quotes"',
      'b:m-1',
      'b:id\u0000with "quotes"',
      'b:m-3',
    ]);
    expect(await to.copies!.keep(held, [])).toBe(5);
    expect(await to.copies!.keep(held, [])).toBe(0);
    expect(await listAll(to, 100)).toEqual(held);
  });

  it('a position read on one node resumes on the other, and new messages follow the copies', async () => {
    const first = await from.readAfter('c', null, 10, Date.now());
    expect(first.messages).toEqual([]);
    await from.append([1, 2].map((n) => message('c', n)));
    const read = await from.readAfter('c', null, 1, Date.now());
    await to.copies!.keep(
      (await listAll(from, 100)).filter((m) => m.streamId === 'c'),
      [],
    );
    await to.append([message('c', 3), message('c', 1)]);
    const resumed = await to.readAfter('c', read.position, 10, Date.now());
    expect(resumed.messages.map((m) => m.messageUuid)).toEqual(['id\u0000with "quotes"', 'm-3']);
    expect(resumed.gap).toBe(false);
  });

  it('carries high-water marks: a stream whose newest message expired goes on numbering after it', async () => {
    const now = Date.now();
    await from.append([message('e', 1), { ...message('e', 3), expiresAt: now + 50 }]);
    const read = await from.readAfter('e', null, 10, now);
    await new Promise((resolve) => setTimeout(resolve, 60));
    while ((await from.purgeExpired(Date.now(), 100)) > 0);
    const held = (await listAll(from, 100)).filter((m) => m.streamId === 'e');
    expect(held.map((m) => m.messageUuid)).toEqual(['m-1']);
    const marks = await from.copies!.marks(['e', 'no-such-stream']);
    expect(marks).toHaveLength(1);
    await to.copies!.keep(held, marks);
    await to.append([message('e', 4)]);
    // The reader had seen m-3 (since purged): its token still finds the message stored after the move.
    const resumed = await to.readAfter('e', read.position, 10, Date.now());
    expect(resumed.messages.map((m) => m.messageUuid)).toEqual(['m-4']);
  });

  it('skips a copy of a message the stream holds under another position (sent again to another node)', async () => {
    await to.append([message('d', 1)]);
    await from.append([message('d', 1), message('d', 2)]);
    const copies = (await listAll(from, 100)).filter((m) => m.streamId === 'd');
    expect(await to.copies!.keep(copies, [])).toBe(1);
    const read = await to.readAfter('d', null, 10, Date.now());
    expect(read.messages.map((m) => m.messageUuid)).toEqual(['m-1', 'id\u0000with "quotes"']);
  });
});
