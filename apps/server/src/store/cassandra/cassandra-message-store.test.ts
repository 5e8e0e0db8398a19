import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageStoreContract } from '../message-store.contract.js';
import type { NewMessage } from '../message-store.js';
import { CassandraMessageStore } from './cassandra-message-store.js';
import { scratchKeyspace, testCassandraUrl, withClient, type ScratchKeyspace } from './scratch-keyspace.js';

const serverUrl = testCassandraUrl();
if (serverUrl !== null) {
  messageStoreContract('cassandra', async () => {
    const keyspace = scratchKeyspace(serverUrl);
    return { open: () => CassandraMessageStore.open(keyspace.url), dispose: () => keyspace.drop() };
  });

  describe('CassandraMessageStore on Cassandra', () => {
    const t0 = Date.now();
    const HOUR = 3_600_000;
    let keyspace: ScratchKeyspace;
    let store: CassandraMessageStore;
    let n = 0;
    const message = (streamId: string, extra: Partial<NewMessage> = {}): NewMessage => ({
      streamId,
      messageUuid: `u-${++n}`,
      messageJson: String(n),
      timestamp: t0,
      expiresAt: t0 + HOUR,
      ...extra,
    });
    const cql = <T>(work: Parameters<typeof withClient<T>>[1]) => withClient(serverUrl, work);
    const ks = () => new URL(keyspace.url.replace('cassandra:', 'http:')).pathname.slice(1);

    beforeAll(async () => {
      // Small buckets, so a few messages span several partitions.
      keyspace = scratchKeyspace(serverUrl, 'bucketMessages=3&bucketSeconds=60&consistency=ONE');
      store = await CassandraMessageStore.open(keyspace.url);
    });

    afterAll(async () => {
      await store?.close();
      await keyspace?.drop();
    });

    it('splits a stream into buckets by count and by time, and reads across them in order', async () => {
      const s = 'buckets';
      const batch = [
        ...Array.from({ length: 7 }, () => message(s)),
        // Two minutes later: a new time bucket even though the last one has room.
        message(s, { timestamp: t0 + 120_000 }),
      ];
      await store.append(batch);
      const partitions = await cql((c) =>
        c.execute(`SELECT bucket, bucket_messages FROM ${ks()}.streams WHERE stream_id = ?`, [s], { prepare: true }),
      );
      expect(partitions.rows.map((row) => row.bucket_messages as number)).toEqual([3, 3, 1, 1]);
      const seen: string[] = [];
      for (
        let page = await store.readAfter(s, null, 2, t0);
        page.messages.length > 0;
        page = await store.readAfter(s, page.position, 2, t0)
      ) {
        expect(page.gap).toBe(false);
        seen.push(...page.messages.map((m) => m.messageUuid));
      }
      expect(seen).toEqual(batch.map((m) => m.messageUuid));
    });

    it('writes each message with a TTL matching its expiry, so Cassandra drops it itself', async () => {
      const s = 'ttl';
      await store.append([
        message(s, { expiresAt: Date.now() + 3_600_000 }),
        message(s, { expiresAt: Date.now() + 10_000 }),
      ]);
      const rows = await cql((c) =>
        c.execute(`SELECT TTL(payload) AS ttl FROM ${ks()}.messages WHERE stream_id = ? ALLOW FILTERING`, [s], {
          prepare: true,
        }),
      );
      const ttls = rows.rows.map((row) => row.ttl as number).sort((a, b) => b - a);
      expect(ttls[0]).toBeGreaterThan(3_590);
      expect(ttls[0]).toBeLessThanOrEqual(3_600);
      // Below a minute the TTL is a minute: visibility follows expires_at, the TTL only frees the space.
      expect(ttls[1]).toBeGreaterThan(50);
      expect(ttls[1]).toBeLessThanOrEqual(60);
    });

    it('skips a whole expired bucket and reports the gap', async () => {
      const s = 'expired-bucket';
      await store.append([message(s), message(s), message(s)]);
      const { position } = await store.readAfter(s, null, 3, t0);
      // The next three fill a bucket of their own and expire early; the last one lives on in the next bucket.
      await store.append([
        message(s, { expiresAt: t0 + 1_000 }),
        message(s, { expiresAt: t0 + 1_000 }),
        message(s, { expiresAt: t0 + 1_000 }),
        message(s, { messageUuid: 'survivor' }),
      ]);
      const later = await store.readAfter(s, position, 10, t0 + 2_000);
      expect(later.messages.map((m) => m.messageUuid)).toEqual(['survivor']);
      expect(later.gap).toBe(true);
    });

    it('continues a stream sequence after reopening, without a false gap', async () => {
      const s = 'reopen';
      await store.append([message(s), message(s)]);
      const { position } = await store.readAfter(s, null, 10, t0);
      await store.close();
      store = await CassandraMessageStore.open(keyspace.url);
      await store.append([message(s, { messageUuid: 'after-reopen' })]);
      const next = await store.readAfter(s, position, 10, t0);
      expect(next.messages.map((m) => m.messageUuid)).toEqual(['after-reopen']);
      expect(next.gap).toBe(false);
    });

    it('does not trust an id record whose message was never written', async () => {
      const s = 'orphan-id';
      await store.append([message(s, { messageUuid: 'lost' })]);
      // As if the batch had failed after writing the id record but before the message.
      await cql((c) =>
        c.execute(`DELETE FROM ${ks()}.messages WHERE stream_id = ? AND bucket = ?`, [s, BigInt(t0 - (t0 % 60_000))], {
          prepare: true,
        }),
      );
      const [retry] = await store.append([message(s, { messageUuid: 'lost' })]);
      expect(retry.duplicate).toBe(false);
      const { messages } = await store.readAfter(s, null, 10, t0);
      expect(messages.map((m) => m.messageUuid)).toEqual(['lost']);
    });

    it('creates the keyspace with the replication the URL asks for', async () => {
      const replicated = scratchKeyspace(serverUrl, 'replication=SimpleStrategy:1');
      const other = await CassandraMessageStore.open(replicated.url);
      try {
        const name = new URL(replicated.url.replace('cassandra:', 'http:')).pathname.slice(1);
        const row = await cql((c) =>
          c.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [name], {
            prepare: true,
          }),
        );
        expect(row.first().replication).toMatchObject({
          class: 'org.apache.cassandra.locator.SimpleStrategy',
          replication_factor: '1',
        });
      } finally {
        await other.close();
        await replicated.drop();
      }
    });
  });
}
