import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { StoreFixture } from '../message-store.contract.js';
import type { MessageStore, NewMessage } from '../message-store.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

/**
 * The SQL stores' high-water marks, seen through the port: a stream whose newest rows were purged continues its
 * numbering from its mark (no gap for a reader who saw everything) until the mark is forgotten, which happens
 * only once no older row needs it and the restart from the clock, an hour back, is above it.
 */
export function highWaterSuite(name: string, fixture: () => Promise<StoreFixture>): void {
  describe(`SQL store high-water marks: ${name}`, () => {
    let setup: StoreFixture;
    let store: MessageStore;

    beforeAll(async () => {
      setup = await fixture();
      store = await setup.open();
    });

    afterAll(async () => {
      vi.useRealTimers();
      await store?.close();
      await setup?.dispose();
    });

    const message = (streamId: string, n: number, timestamp: number, expiresAt: number): NewMessage => ({
      streamId,
      messageUuid: `m-${n}`,
      messageJson: String(n),
      timestamp,
      expiresAt,
    });
    const purgeAt = async (now: number): Promise<void> => {
      while ((await store.purgeExpired(now, 100)) > 0);
    };

    it('numbers a purged stream after its last message, so a reader who saw everything sees no gap', async () => {
      const s = `restart-${randomUUID()}`;
      const now = Date.now();
      await store.append([1, 2].map((n) => message(s, n, now, now + 50)));
      const { position } = await store.readAfter(s, null, 10, now);
      await sleep(60);
      await purgeAt(Date.now());
      await store.append([message(s, 3, Date.now(), Date.now() + DAY)]);
      const next = await store.readAfter(s, position, 10, Date.now());
      expect(next.messages.map((m) => m.messageUuid)).toEqual(['m-3']);
      expect(next.gap).toBe(false);
    });

    it('keeps a mark while an older row needs it, and forgets it once the stream is empty and the clock is past it', async () => {
      const s = `forget-${randomUUID()}`;
      const t = Date.now();
      await store.append([message(s, 1, t, t + DAY), message(s, 2, t, t + 50)]);
      await sleep(60);
      await purgeAt(Date.now());
      // Hours later m-1 still lives, below the mark: the mark stays although the clock is past it.
      await purgeAt(t + 2 * HOUR);
      await store.append([message(s, 3, t, t + DAY)]);
      const sawAll = await store.readAfter(s, null, 10, t + 2 * HOUR);
      expect(sawAll.messages.map((m) => m.messageUuid)).toEqual(['m-1', 'm-3']);
      expect(sawAll.gap).toBe(true); // m-2 was purged between them: the mark kept m-3 from taking its number

      // Two days later everything has expired and the mark is forgotten: the next message is numbered from the
      // clock, above the mark, and the reader who saw m-3 is told of a gap (it cannot be told that there is none).
      await purgeAt(t + 2 * DAY);
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(t + 2 * DAY);
      try {
        await store.append([message(s, 4, t + 2 * DAY, t + 3 * DAY)]);
      } finally {
        vi.useRealTimers();
      }
      const next = await store.readAfter(s, sawAll.position, 10, t + 2 * DAY);
      expect(next.messages.map((m) => m.messageUuid)).toEqual(['m-4']);
      expect(next.gap).toBe(true);
    });
  });
}
