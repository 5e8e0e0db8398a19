import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageStoreContract } from '../message-store.contract.js';
import { StoreUnavailableError, type NewMessage } from '../message-store.js';
import { HEADS_COLLECTION, MESSAGES_COLLECTION, MongoMessageStore } from './mongodb-message-store.js';
import { scratchMongoDatabase, testMongoUrl, withMongoClient, type ScratchMongoDatabase } from './scratch-database.js';

const serverUrl = testMongoUrl();
if (serverUrl !== null) {
  messageStoreContract('mongodb', async () => {
    const database = scratchMongoDatabase(serverUrl);
    return { open: () => MongoMessageStore.open(database.url), dispose: () => database.drop() };
  });

  describe('MongoMessageStore on a MongoDB-wire server', () => {
    const t0 = Date.now();
    let database: ScratchMongoDatabase;
    let store: MongoMessageStore;
    let n = 0;
    const message = (streamId: string, extra: Partial<NewMessage> = {}): NewMessage => ({
      streamId,
      messageUuid: `u-${++n}`,
      messageJson: String(n),
      timestamp: t0,
      expiresAt: t0 + 3_600_000,
      ...extra,
    });

    beforeAll(async () => {
      database = scratchMongoDatabase(serverUrl);
      store = await MongoMessageStore.open(database.url);
    });

    afterAll(async () => {
      await store?.close();
      await database?.drop();
    });

    it('keys messages by (stream, messageUuid), with a unique (stream, sequence) index and an expiry index', async () => {
      const indexes = await withMongoClient(serverUrl, async (client) => {
        const db = client.db(database.name);
        return {
          messages: await db.collection(MESSAGES_COLLECTION).indexes(),
          heads: await db.collection(HEADS_COLLECTION).indexes(),
        };
      });
      const byName = Object.fromEntries(indexes.messages.map((index) => [index.name, index]));
      expect(byName._id_).toMatchObject({ key: { _id: 1 } });
      expect(byName.stream_seq).toMatchObject({ key: { s: 1, q: 1 }, unique: true });
      expect(byName.expire).toMatchObject({ key: { e: 1 } });
      expect(indexes.heads.map((index) => index.name)).toContain('expire');
    });

    it('opens again on a database whose indexes exist', async () => {
      const again = await MongoMessageStore.open(database.url);
      await again.close();
    });

    it('continues a stream after its newest messages were deleted behind its back (as a TTL index does)', async () => {
      const s = 'ttl-deleted';
      await store.append([message(s), message(s)]);
      const { position } = await store.readAfter(s, null, 10, t0);
      await withMongoClient(serverUrl, (client) =>
        client.db(database.name).collection(MESSAGES_COLLECTION).deleteMany({ s }),
      );
      await store.append([message(s, { messageUuid: 'next' })]);
      const next = await store.readAfter(s, position, 10, t0);
      expect(next.messages.map((m) => m.messageUuid)).toEqual(['next']);
      expect(next.gap).toBe(false);
    });

    it('refuses to open on an unreachable server, without printing the password', async () => {
      const open = MongoMessageStore.open(
        'mongodb://ipubsub:hidden-password@127.0.0.1:1/ipubsub?serverSelectionTimeoutMS=500',
      );
      await expect(open).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(open).rejects.toThrow(/mongodb:\/\/ipubsub:\*\*\*@127\.0\.0\.1:1\/ipubsub/);
      await expect(open).rejects.not.toThrow(/hidden-password/);
    });
  });
}
