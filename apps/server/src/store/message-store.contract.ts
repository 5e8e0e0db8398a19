import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidPositionError, type MessageStore, type NewMessage, type StorePosition } from './message-store.js';

/** Opens a fresh, empty store for one run of the suite, and disposes of everything it created. */
export interface StoreFixture {
  open(): Promise<MessageStore>;
  dispose(): Promise<void>;
}

const DAY = 86_400_000;

/**
 * The behaviour every MessageStore adapter must have. Each adapter's test file runs this unchanged against a
 * real database; the suite speaks only through the port, so it holds for any position format.
 */
export function messageStoreContract(name: string, fixture: () => Promise<StoreFixture>): void {
  describe(`MessageStore contract: ${name}`, () => {
    let setup: StoreFixture;
    let store: MessageStore;
    const t0 = Date.now();

    beforeAll(async () => {
      setup = await fixture();
      store = await setup.open();
    });

    afterAll(async () => {
      await store?.close();
      await setup?.dispose();
    });

    /** A stream id no other test uses. */
    const stream = (label: string): string => `${label}-${randomUUID()}`;
    const message = (streamId: string, n: number | string, extra: Partial<NewMessage> = {}): NewMessage => ({
      streamId,
      messageUuid: `m-${n}`,
      messageJson: JSON.stringify({ n }),
      timestamp: t0,
      expiresAt: t0 + DAY,
      ...extra,
    });
    const readAll = async (streamId: string, now = t0): Promise<string[]> => {
      const { messages } = await store.readAfter(streamId, null, 1000, now);
      return messages.map((m) => m.messageUuid);
    };

    it('returns appended messages oldest first, bodies and timestamps verbatim', async () => {
      const s = stream('order');
      const bodies = [{ a: 1, nested: [true, null] }, 'text with "quotes" and ünïcödé 🎉', 42.5, null, [], false];
      const batch = bodies.map((body, i) => message(s, i, { messageJson: JSON.stringify(body), timestamp: t0 + i }));
      const results = await store.append(batch);
      expect(results).toEqual(batch.map((m) => ({ duplicate: false, timestamp: m.timestamp })));
      const { messages, gap, position } = await store.readAfter(s, null, 100, t0);
      expect(
        messages.map(({ messageUuid, messageJson, timestamp }) => ({ messageUuid, messageJson, timestamp })),
      ).toEqual(batch.map((m) => ({ messageUuid: m.messageUuid, messageJson: m.messageJson, timestamp: m.timestamp })));
      expect(messages.at(-1)!.position).toEqual(position);
      expect(messages.map((m): unknown => JSON.parse(m.messageJson))).toEqual(bodies);
      expect(gap).toBe(false);
      expect(Buffer.isBuffer(position)).toBe(true);
    });

    it("resumes right after any message of a page from that message's own position", async () => {
      const s = stream('per-message');
      await store.append(Array.from({ length: 6 }, (_, i) => message(s, i)));
      const { messages } = await store.readAfter(s, null, 6, t0);
      for (let i = 0; i < messages.length; i++) {
        const next = await store.readAfter(s, messages[i].position, 100, t0);
        expect(next.messages.map((m) => m.messageUuid)).toEqual(messages.slice(i + 1).map((m) => m.messageUuid));
        expect(next.gap).toBe(false);
      }
    });

    it('continues exactly after a position, a limit at a time, and across batches', async () => {
      const s = stream('paging');
      for (let b = 0; b < 5; b++) await store.append(Array.from({ length: 7 }, (_, i) => message(s, b * 7 + i)));
      const seen: string[] = [];
      let position: StorePosition | null = null;
      for (;;) {
        const page = await store.readAfter(s, position, 3, t0);
        if (page.messages.length === 0) {
          expect(page.position).toBeNull();
          break;
        }
        expect(page.messages.length).toBeLessThanOrEqual(3);
        expect(page.gap).toBe(false);
        seen.push(...page.messages.map((m) => m.messageUuid));
        position = page.position;
      }
      expect(seen).toEqual(Array.from({ length: 35 }, (_, i) => `m-${i}`));
    });

    it('keeps each stream in its own order when a batch interleaves streams', async () => {
      const [a, b, c] = [stream('a'), stream('b'), stream('c')];
      const batch: NewMessage[] = [];
      for (let i = 0; i < 30; i++) batch.push(message([a, b, c][i % 3], i));
      await store.append(batch);
      await store.append([message(b, 'late'), message(a, 'late')]);
      expect(await readAll(a)).toEqual([...batch.filter((m) => m.streamId === a).map((m) => m.messageUuid), 'm-late']);
      expect(await readAll(b)).toEqual([...batch.filter((m) => m.streamId === b).map((m) => m.messageUuid), 'm-late']);
      expect(await readAll(c)).toEqual(batch.filter((m) => m.streamId === c).map((m) => m.messageUuid));
    });

    it('stores a messageUuid once per stream: retries in later and in the same batch are duplicates', async () => {
      const s = stream('dedup');
      const other = stream('dedup-other');
      await store.append([message(s, 1, { timestamp: t0 + 1 })]);
      const results = await store.append([
        message(s, 1, { timestamp: t0 + 5, messageJson: '"changed"' }),
        message(s, 2, { timestamp: t0 + 6 }),
        message(s, 2, { timestamp: t0 + 7 }),
        message(other, 1, { timestamp: t0 + 8 }),
      ]);
      expect(results).toEqual([
        { duplicate: true, timestamp: t0 + 1 },
        { duplicate: false, timestamp: t0 + 6 },
        { duplicate: true, timestamp: t0 + 6 },
        { duplicate: false, timestamp: t0 + 8 },
      ]);
      const { messages } = await store.readAfter(s, null, 10, t0);
      expect(messages.map((m) => [m.messageUuid, m.messageJson])).toEqual([
        ['m-1', '{"n":1}'],
        ['m-2', '{"n":2}'],
      ]);
      expect(await readAll(other)).toEqual(['m-1']);
    });

    it('compares ids and stream ids exactly: case, trailing spaces, NUL, lone surrogates, escapes', async () => {
      const upper = stream('Case');
      const lower = upper.toLowerCase();
      const ids = [
        'id',
        'ID',
        'id ',
        'a\u0000b',
        'lone \ud800 surrogate',
        'back\\slash "quoted"',
        '日本語 🎉',
        'x'.repeat(128),
      ];
      const results = await store.append([
        ...ids.map((id) => message(upper, id, { messageUuid: id })),
        message(lower, 'id', { messageUuid: 'id' }),
      ]);
      expect(results.every((r) => !r.duplicate)).toBe(true);
      expect(await readAll(upper)).toEqual(ids);
      expect(await readAll(lower)).toEqual(['id']);
      const again = await store.append(ids.map((id) => message(upper, id, { messageUuid: id })));
      expect(again.every((r) => r.duplicate)).toBe(true);
    });

    it('never returns an expired message, and reports the gap to a reader whose next message expired', async () => {
      const s = stream('ttl');
      await store.append([
        message(s, 1, { expiresAt: t0 + 1_000 }),
        message(s, 2, { expiresAt: t0 + 1_000 }),
        message(s, 3, { expiresAt: t0 + 5_000 }),
        message(s, 4, { expiresAt: t0 + 1_000 }),
        message(s, 5, { expiresAt: t0 + DAY }),
      ]);
      const first = await store.readAfter(s, null, 1, t0);
      expect(first.messages.map((m) => m.messageUuid)).toEqual(['m-1']);

      // Later: m-2 and m-4 have expired. The reader holding m-1's position skipped m-2.
      const later = t0 + 2_000;
      const next = await store.readAfter(s, first.position, 1, later);
      expect(next.messages.map((m) => m.messageUuid)).toEqual(['m-3']);
      expect(next.gap).toBe(true);
      const batch = await store.readAfter(s, next.position, 10, later);
      expect(batch.messages.map((m) => m.messageUuid)).toEqual(['m-5']);
      expect(batch.gap).toBe(true);

      // A reader without a token starts at the oldest retained message: nothing was skipped for it.
      const fresh = await store.readAfter(s, null, 1, later);
      expect(fresh.messages.map((m) => m.messageUuid)).toEqual(['m-3']);
      expect(fresh.gap).toBe(false);
      // ...but within a batch, a hole between two returned messages is a gap.
      const freshBatch = await store.readAfter(s, null, 10, later);
      expect(freshBatch.messages.map((m) => m.messageUuid)).toEqual(['m-3', 'm-5']);
      expect(freshBatch.gap).toBe(true);

      expect(await readAll(s, t0 + DAY)).toEqual([]);
    });

    it('expires at exactly expiresAt', async () => {
      const s = stream('edge');
      await store.append([message(s, 1, { expiresAt: t0 + 100 })]);
      expect(await readAll(s, t0 + 99)).toEqual(['m-1']);
      expect(await readAll(s, t0 + 100)).toEqual([]);
    });

    it('purges expired messages in batches, and only expired ones', async () => {
      const s = stream('purge');
      // Far in the future, so other tests' messages are not expired at `now`.
      const base = t0 + 1000 * DAY;
      await store.append(
        Array.from({ length: 25 }, (_, i) => message(s, i, { timestamp: base, expiresAt: base + (i < 20 ? 10 : DAY) })),
      );
      const now = base + 1000;
      let total = 0;
      for (let n = await store.purgeExpired(now, 8); n > 0; n = await store.purgeExpired(now, 8)) {
        expect(n).toBeLessThanOrEqual(8);
        total += n;
      }
      // Everything expired at `now` in this store (earlier tests' short-lived messages included) is gone.
      expect(total).toBeGreaterThanOrEqual(20);
      expect(await readAll(s, base)).toEqual(Array.from({ length: 5 }, (_, i) => `m-${i + 20}`));
      expect(await store.purgeExpired(now, 8)).toBe(0);
    });

    /** Purges everything expired by now, after waiting until messages expiring at `until` have expired. */
    const purgeUntil = async (until: number): Promise<void> => {
      await sleep(Math.max(0, until + 1 - Date.now()));
      while ((await store.purgeExpired(Date.now(), 100)) > 0);
    };

    it('never reuses the position of a purged newest message while older ones remain', async () => {
      // TTLs differ per message: here the newest expires first. A reader holding its position must still get
      // the next message stored, so that message must not take the purged one's place.
      const s = stream('newest-purged');
      const now = Date.now();
      await store.append([message(s, 1, { timestamp: now }), message(s, 2, { timestamp: now, expiresAt: now + 50 })]);
      const { messages, position } = await store.readAfter(s, null, 10, now);
      expect(messages.map((m) => m.messageUuid)).toEqual(['m-1', 'm-2']);
      await purgeUntil(now + 50);
      expect(await readAll(s, Date.now())).toEqual(['m-1']);

      await store.append([message(s, 3, { timestamp: Date.now() })]);
      const next = await store.readAfter(s, position, 10, Date.now());
      expect(next.messages.map((m) => m.messageUuid)).toEqual(['m-3']);
      expect(next.gap).toBe(false);
      expect(await readAll(s, Date.now())).toEqual(['m-1', 'm-3']);
    });

    it('after every message of a stream is purged, new messages reach old tokens', async () => {
      // No time passes beyond the TTL (so no clock can be trusted to have moved on): positions handed out before
      // the purge are still before every new message.
      const s = stream('restart');
      const now = Date.now();
      await store.append([1, 2, 3].map((n) => message(s, n, { timestamp: now, expiresAt: now + 50 })));
      const sawFirst = (await store.readAfter(s, null, 1, now)).position;
      const sawAll = (await store.readAfter(s, null, 10, now)).position;
      await purgeUntil(now + 50);
      expect(await readAll(s, Date.now())).toEqual([]);

      // The purged ids are free again: the store no longer knows them.
      const results = await store.append([
        message(s, 3, { timestamp: Date.now() }),
        message(s, 4, { timestamp: Date.now() }),
      ]);
      expect(results.map((r) => r.duplicate)).toEqual([false, false]);
      const afterFirst = await store.readAfter(s, sawFirst, 10, Date.now());
      expect(afterFirst.messages.map((m) => m.messageUuid)).toEqual(['m-3', 'm-4']);
      expect(afterFirst.gap).toBe(true); // the first m-2 and m-3 were never read
      // Nothing was skipped for this reader; an adapter that forgot the stream may still report a gap.
      const afterAll = await store.readAfter(s, sawAll, 10, Date.now());
      expect(afterAll.messages.map((m) => m.messageUuid)).toEqual(['m-3', 'm-4']);
    });

    it('answers nothing after the newest message, then the next one appended', async () => {
      const s = stream('tail');
      await store.append([message(s, 1)]);
      const { position } = await store.readAfter(s, null, 10, t0);
      const empty = await store.readAfter(s, position, 10, t0);
      expect(empty).toEqual({ messages: [], position: null, gap: false });
      await store.append([message(s, 2)]);
      const next = await store.readAfter(s, position, 10, t0);
      expect(next.messages.map((m) => m.messageUuid)).toEqual(['m-2']);
      expect(next.gap).toBe(false);
      expect(await store.readAfter(stream('never-written'), null, 10, t0)).toEqual({
        messages: [],
        position: null,
        gap: false,
      });
    });

    it('keeps every message, each writer in order and no gap, when two nodes append to one stream at once', async () => {
      // A stream changing owner: for a moment the old and the new owner both write.
      const s = stream('two-writers');
      await store.append([message(s, 'first')]);
      const other = await setup.open();
      const uuids = (writer: string) => Array.from({ length: 100 }, (_, i) => `${writer}-${i}`);
      const write = async (target: MessageStore, writer: string) => {
        const all = uuids(writer);
        for (let b = 0; b < all.length; b += 10)
          await target.append(all.slice(b, b + 10).map((id) => message(s, id, { messageUuid: id })));
      };
      try {
        await Promise.all([write(store, 'a'), write(other, 'b')]);
      } finally {
        await other.close();
      }
      const { messages, gap } = await store.readAfter(s, null, 1000, t0);
      const stored = messages.map((m) => m.messageUuid);
      expect(stored).toHaveLength(201);
      expect(gap).toBe(false);
      expect(stored.filter((id) => id.startsWith('a-'))).toEqual(uuids('a'));
      expect(stored.filter((id) => id.startsWith('b-'))).toEqual(uuids('b'));
    });

    it('rejects positions it did not make', async () => {
      const s = stream('foreign');
      for (const bytes of [Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.alloc(64, 0xff)]) {
        await expect(store.readAfter(s, bytes, 1, t0)).rejects.toBeInstanceOf(InvalidPositionError);
      }
    });

    it('stores a batch of 1000 messages of 1000 streams in one append', async () => {
      const prefix = stream('wide');
      const batch = Array.from({ length: 1000 }, (_, i) => message(`${prefix}-${i}`, i));
      const results = await store.append(batch);
      expect(results.filter((r) => r.duplicate)).toHaveLength(0);
      expect(await readAll(`${prefix}-999`)).toEqual(['m-999']);
    });

    it('is healthy while open', async () => {
      expect(await store.health()).toBeNull();
    });

    it('keeps messages across close and reopen, and reports itself unhealthy once closed', async () => {
      const s = stream('durable');
      await store.append([message(s, 1), message(s, 2)]);
      await store.close();
      expect(await store.health()).not.toBeNull();
      store = await setup.open();
      expect(await readAll(s)).toEqual(['m-1', 'm-2']);
      expect((await store.append([message(s, 2)]))[0].duplicate).toBe(true);
    });
  });
}
