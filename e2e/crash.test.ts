import { afterAll, describe, expect, it } from 'vitest';
import { uniqueStreamId } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';
import { storeBackends, type StoreUnderTest } from './support/stores.js';

const SENDERS = 10;
/** How long the senders store before the node is killed. */
const STORING_MS = 1_500;

/** Sends one message after another, each after the previous one's answer, until the node stops answering. */
async function sendUntilKilled(server: ServerProcess, streamId: string): Promise<string[]> {
  const acknowledged: string[] = [];
  for (let n = 0; ; n++) {
    const messageUuid = `${streamId}-${n}`;
    try {
      const res = await server.send({ streamId, messageUuid, message: { n }, writeToDB: true });
      await res.text();
      if (res.status !== 200) throw new Error(`send answered ${res.status}`);
    } catch {
      return acknowledged;
    }
    acknowledged.push(messageUuid);
  }
}

/** Every messageUuid stored on the stream, oldest first, through batched reads. */
async function readAll(server: ServerProcess, streamId: string): Promise<string[]> {
  const uuids: string[] = [];
  let token: string | undefined;
  for (;;) {
    const query: Record<string, string | number | boolean> = {
      streamId,
      readFromDB: true,
      timeoutSeconds: 0,
      maxMessages: 1000,
    };
    if (token !== undefined) query.dbResumeToken = token;
    const res = await server.receive(query);
    if (res.status === 424) return uuids;
    expect(res.status).toBe(200);
    const batch = (await res.json()) as { messages: { messageUuid: string }[]; dbResumeToken: string };
    uuids.push(...batch.messages.map((m) => m.messageUuid));
    token = batch.dbResumeToken;
  }
}

for (const backend of storeBackends(['sqlite', 'postgres', 'mysql'])) {
  describe(`kill -9 while storing: ${backend.type}`, () => {
    let store: StoreUnderTest | undefined;
    let server: ServerProcess | undefined;

    afterAll(async () => {
      await server?.stop();
      await store?.dispose();
    });

    it('every send answered 200 is readable, in order, after a restart', async () => {
      store = await backend.create();
      server = await ServerProcess.start({ env: store.env });
      const streams = Array.from({ length: SENDERS }, (_, i) => uniqueStreamId(`crash-${i}`));
      const senders = streams.map((streamId) => sendUntilKilled(server!, streamId));
      await new Promise((resolve) => setTimeout(resolve, STORING_MS));
      expect(await server.stop('SIGKILL')).toBeNull();
      const acknowledged = await Promise.all(senders);
      const total = acknowledged.reduce((sum, uuids) => sum + uuids.length, 0);
      expect(total, 'the senders stored something before the kill').toBeGreaterThan(SENDERS * 10);

      server = await ServerProcess.start({ env: server.env, port: server.port });
      for (const [i, streamId] of streams.entries()) {
        const stored = await readAll(server, streamId);
        // Each sender waited for every answer, so the stream holds exactly its acknowledged sends, in order,
        // plus at most the one whose commit finished as the process died.
        expect(stored.slice(0, acknowledged[i].length)).toEqual(acknowledged[i]);
        expect(stored.length - acknowledged[i].length).toBeLessThanOrEqual(1);
        expect(new Set(stored).size).toBe(stored.length);
      }
    });
  });
}
