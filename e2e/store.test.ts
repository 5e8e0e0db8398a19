import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, scrapeMetrics, uniqueStreamId } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';
import { storeBackends, type StoreUnderTest } from './support/stores.js';

interface Received {
  messageUuid: string;
  message: unknown;
  timestamp: string;
  dbResumeToken?: string;
  gap?: { reason: string };
}

interface Batch {
  messages: Received[];
  dbResumeToken?: string;
  gap?: { reason: string };
}

/** The wire shape ReceivedMessage: no field beyond `allowed`, an ISO-8601 UTC timestamp. */
function expectReceivedShape(body: Received, allowed: string[]): void {
  expect(Object.keys(body).filter((key) => !allowed.includes(key))).toEqual([]);
  expect(typeof body.messageUuid).toBe('string');
  expect('message' in body).toBe(true);
  expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  if (allowed.includes('dbResumeToken')) expect(body.dbResumeToken).toMatch(/^[A-Za-z0-9_-]+$/);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** docs/contract.md §2–3 in stored mode, over HTTP, against a real node on each store. */
for (const backend of storeBackends()) {
  describe(`stored streams over HTTP: ${backend.type}`, () => {
    let store: StoreUnderTest;
    let server: ServerProcess;

    beforeAll(async () => {
      store = await backend.create();
      server = await ServerProcess.start({ env: { ...store.env, IPUBSUB_STORE_PURGEINTERVALSECONDS: '0.2' } });
    });

    afterAll(async () => {
      await server?.stop();
      await store?.dispose();
    });

    const store200 = async (
      streamId: string,
      messageUuid: string,
      message: unknown,
      extra: Record<string, unknown> = {},
    ) => {
      const res = await server.send({ streamId, messageUuid, message, writeToDB: true, ...extra });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      return JSON.parse(text) as { messageUuid: string; timestamp: string; duplicate?: boolean };
    };
    const read = async (streamId: string, query: Record<string, string | number | boolean> = {}): Promise<Received> => {
      const res = await server.receive({ streamId, readFromDB: true, timeoutSeconds: 0, ...query });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      const body = JSON.parse(text) as Received;
      expectReceivedShape(body, ['messageUuid', 'message', 'timestamp', 'dbResumeToken', 'gap']);
      return body;
    };
    const readBatch = async (
      streamId: string,
      query: Record<string, string | number | boolean> = {},
    ): Promise<Batch> => {
      const res = await server.receive({ streamId, readFromDB: true, timeoutSeconds: 0, maxMessages: 1000, ...query });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      const body = JSON.parse(text) as Batch;
      expect(Object.keys(body).filter((key) => !['messages', 'dbResumeToken', 'gap'].includes(key))).toEqual([]);
      expect(typeof body.dbResumeToken).toBe('string');
      for (const message of body.messages) expectReceivedShape(message, ['messageUuid', 'message', 'timestamp']);
      return body;
    };

    it('reports the store on /ready', async () => {
      const res = await fetch(`${server.url}/ready`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { checks: Record<string, string> }).checks.store).toBe('ok');
    });

    it('replays stored messages in order with resume tokens, without consuming them', async () => {
      const streamId = uniqueStreamId('replay');
      const bodies = [{ n: 1 }, 'two', 3, null, [4, { five: true }], 'ünïcödé 🎉 "quoted"'];
      const acks = [];
      for (const [i, message] of bodies.entries()) acks.push(await store200(streamId, `m-${i}`, message));
      expect(acks.map((ack) => ack.duplicate)).toEqual(bodies.map(() => undefined));

      let token: string | undefined;
      for (const [i, message] of bodies.entries()) {
        const received = await read(streamId, token === undefined ? {} : { dbResumeToken: token });
        expect(received).toMatchObject({ messageUuid: `m-${i}`, message, timestamp: acks[i].timestamp });
        expect(received.gap).toBeUndefined();
        token = received.dbResumeToken;
      }
      await expectError(
        await server.receive({ streamId, readFromDB: true, timeoutSeconds: 0, dbResumeToken: token! }),
        424,
        'NO_MESSAGE',
      );
      // Not consumed: a new reader starts again at the oldest; the in-memory queue of the same id is separate.
      expect((await read(streamId)).messageUuid).toBe('m-0');
      await expectError(await server.receive({ streamId, timeoutSeconds: 0 }), 424, 'NO_MESSAGE');
    });

    it('stores a retried messageUuid once and answers the retry 200 with duplicate: true', async () => {
      const streamId = uniqueStreamId('dedup');
      const first = await store200(streamId, 'once', 'original');
      const retry = await store200(streamId, 'once', 'retried body');
      expect(retry).toEqual({ messageUuid: 'once', timestamp: first.timestamp, duplicate: true });
      const concurrent = await Promise.all(Array.from({ length: 10 }, () => store200(streamId, 'racing', 'r')));
      expect(concurrent.filter((ack) => ack.duplicate !== true)).toHaveLength(1);
      const { messages } = await readBatch(streamId);
      expect(messages.map((m) => [m.messageUuid, m.message])).toEqual([
        ['once', 'original'],
        ['racing', 'r'],
      ]);
    });

    it('fans out: every reader with its own token sees every message', async () => {
      const streamId = uniqueStreamId('fanout');
      for (let i = 0; i < 5; i++) await store200(streamId, `f-${i}`, i);
      const readers = await Promise.all(
        [0, 1, 2].map(async () => {
          const seen: unknown[] = [];
          let token: string | undefined;
          for (let i = 0; i < 5; i++) {
            const received = await read(streamId, token === undefined ? {} : { dbResumeToken: token });
            seen.push(received.message);
            token = received.dbResumeToken;
          }
          return seen;
        }),
      );
      expect(readers).toEqual([0, 1, 2].map(() => [0, 1, 2, 3, 4]));
    });

    it('reads batches of up to maxMessages and continues from the batch token', async () => {
      const streamId = uniqueStreamId('batch');
      for (let i = 0; i < 7; i++) await store200(streamId, `b-${i}`, i);
      const first = await readBatch(streamId, { maxMessages: 3 });
      expect(first.messages.map((m) => m.message)).toEqual([0, 1, 2]);
      const second = await readBatch(streamId, { maxMessages: 10, dbResumeToken: first.dbResumeToken! });
      expect(second.messages.map((m) => m.message)).toEqual([3, 4, 5, 6]);
      expect(second.gap).toBeUndefined();
      for (const maxMessages of [0, 1001, 'many']) {
        await expectError(
          await server.receive({ streamId, readFromDB: true, timeoutSeconds: 0, maxMessages }),
          400,
          'INVALID_REQUEST',
        );
      }
    });

    it('wakes a reader waiting at the end of the stream as soon as a message is stored', async () => {
      const streamId = uniqueStreamId('wake');
      await store200(streamId, 'w-0', 'first');
      const { dbResumeToken } = await read(streamId);
      const started = performance.now();
      const waiting = server.receive({ streamId, readFromDB: true, timeoutSeconds: 20, dbResumeToken: dbResumeToken! });
      await sleep(300);
      await store200(streamId, 'w-1', 'second');
      const res = await waiting;
      const elapsed = performance.now() - started;
      expect(res.status).toBe(200);
      expect(((await res.json()) as Received).message).toBe('second');
      expect(elapsed).toBeGreaterThanOrEqual(300);
      // Woken by the store, not found when the 20 s poll ran out; the margin is for a loaded machine.
      expect(elapsed).toBeLessThan(10_000);
    });

    it('answers 424 after timeoutSeconds when nothing new is stored', async () => {
      const streamId = uniqueStreamId('quiet');
      const started = performance.now();
      await expectError(await server.receive({ streamId, readFromDB: true, timeoutSeconds: 1 }), 424, 'NO_MESSAGE');
      expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    });

    it('never returns an expired message, reports the gap to a reader that missed it, and purges it', async () => {
      const streamId = uniqueStreamId('ttl');
      await store200(streamId, 'keep-1', 1);
      await store200(streamId, 'short', 2, { dbTTLSeconds: 1 });
      await store200(streamId, 'keep-2', 3);
      const first = await read(streamId);
      expect(first.message).toBe(1);
      await sleep(1_200);
      const next = await read(streamId, { dbResumeToken: first.dbResumeToken! });
      expect(next).toMatchObject({ messageUuid: 'keep-2', gap: { reason: 'expired' } });
      const all = await readBatch(streamId);
      expect(all.messages.map((m) => m.messageUuid)).toEqual(['keep-1', 'keep-2']);

      const deadline = Date.now() + 5_000;
      while ((await scrapeMetrics(server)).get('ipubsub_store_purged_total') === 0 && Date.now() < deadline)
        await sleep(100);
      expect((await scrapeMetrics(server)).get('ipubsub_store_purged_total')).toBeGreaterThanOrEqual(1);
    });

    it('answers 400 INVALID_RESUME_TOKEN to tampered, foreign and malformed tokens', async () => {
      const streamId = uniqueStreamId('tokens');
      await store200(streamId, 't-0', 0);
      await store200(streamId, 't-1', 1);
      const { dbResumeToken } = await read(streamId);
      const token = dbResumeToken!;
      const flipped = token.slice(0, 5) + (token[5] === 'A' ? 'B' : 'A') + token.slice(6);
      const otherStream = uniqueStreamId('tokens-other');
      await store200(otherStream, 'o-0', 0);
      for (const [target, bad] of [
        [streamId, flipped],
        [otherStream, token],
        [streamId, 'not-a-token'],
        [streamId, `${token}==`],
        [streamId, token.slice(0, -2)],
      ]) {
        await expectError(
          await server.receive({ streamId: target, readFromDB: true, timeoutSeconds: 0, dbResumeToken: bad }),
          400,
          'INVALID_RESUME_TOKEN',
        );
      }
      // A token alone implies a stored read.
      const res = await server.receive({ streamId, timeoutSeconds: 0, dbResumeToken: token });
      expect(((await res.json()) as Received).message).toBe(1);
      await expectError(
        await server.receive({ streamId, readFromDB: true, dbResumeToken: 'x'.repeat(1025) }),
        400,
        'INVALID_REQUEST',
      );
    });

    it('keeps in-memory streams working beside stored ones', async () => {
      const streamId = uniqueStreamId('both');
      await store200(streamId, 'stored', 'in the store');
      expect((await server.send({ streamId, messageUuid: 'memory', message: 'in memory' })).status).toBe(200);
      const fromMemory = await server.receive({ streamId, timeoutSeconds: 0 });
      expect(((await fromMemory.json()) as Received).message).toBe('in memory');
      expect((await read(streamId)).message).toBe('in the store');
    });

    it('keeps stored messages across a restart', async () => {
      const streamId = uniqueStreamId('restart');
      await store200(streamId, 'r-0', 'before');
      await server.stop();
      server = await ServerProcess.start({ env: server.env, port: server.port });
      expect((await read(streamId)).message).toBe('before');
      expect((await store200(streamId, 'r-0', 'again')).duplicate).toBe(true);
    });

    // SQLite cannot be taken away from its node; a dropped MongoDB database comes back on the next write.
    if (backend.type !== 'sqlite' && backend.type !== 'mongodb') {
      it('when the store is lost: stored sends 503, /ready fails, in-memory streams keep working', async () => {
        const streamId = uniqueStreamId('lost');
        await store200(streamId, 'before', 1);
        await store.lose!();
        await expectError(
          await server.send({ streamId, messageUuid: 'after', message: 2, writeToDB: true }),
          503,
          'STORE_UNAVAILABLE',
        );
        await expectError(
          await server.receive({ streamId, readFromDB: true, timeoutSeconds: 0 }),
          503,
          'STORE_UNAVAILABLE',
        );
        const ready = await fetch(`${server.url}/ready`);
        expect(ready.status).toBe(503);
        expect(((await ready.json()) as { checks: Record<string, string> }).checks.store).not.toBe('ok');
        expect((await server.send({ streamId, messageUuid: 'memory', message: 'still here' })).status).toBe(200);
        const res = await server.receive({ streamId, timeoutSeconds: 0 });
        expect(((await res.json()) as Received).message).toBe('still here');
      });
    }
  });
}

describe('a store that cannot be reached at start', () => {
  it('stops the node with a message naming the store', async () => {
    const start = ServerProcess.start({
      env: {
        IPUBSUB_STORE_TYPE: 'postgres',
        IPUBSUB_STORE_URL: 'postgres://ipubsub:hidden-password@127.0.0.1:1/ipubsub',
      },
    });
    await expect(start).rejects.toThrow(
      /server exited \(1\)[\s\S]*cannot open the postgres message store at postgres:\/\/ipubsub:\*\*\*@127\.0\.0\.1:1\/ipubsub: connect ECONNREFUSED/,
    );
    await expect(start).rejects.not.toThrow(/hidden-password/);
  });
});
