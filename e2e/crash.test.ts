import { afterAll, describe, expect, it } from 'vitest';
import { readStoredUuids, uniqueStreamId } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';
import { storeBackends, type StoreUnderTest } from './support/stores.js';

const SENDERS = 10;
/** How many sends the senders have had acknowledged, together, when the node is killed (they go on sending). */
const STORED_BEFORE_KILL = 100;

/**
 * Sends one message after another, each after the previous one's answer, until the node stops answering; pushes
 * the acknowledged ones to `acknowledged`.
 */
async function sendUntilKilled(server: ServerProcess, streamId: string, acknowledged: string[]): Promise<void> {
  for (let n = 0; ; n++) {
    const messageUuid = `${streamId}-${n}`;
    try {
      const res = await server.send({ streamId, messageUuid, message: { n }, writeToDB: true });
      await res.text();
      if (res.status !== 200) throw new Error(`send answered ${res.status}`);
    } catch {
      return;
    }
    acknowledged.push(messageUuid);
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
      const acknowledged = streams.map((): string[] => []);
      const senders = streams.map((streamId, i) => sendUntilKilled(server!, streamId, acknowledged[i]));
      let sendersStopped = false;
      void Promise.all(senders).then(() => (sendersStopped = true));
      // Killed after a number of stores rather than a time, so a slow machine kills as much work in flight.
      while (!sendersStopped && acknowledged.reduce((sum, uuids) => sum + uuids.length, 0) < STORED_BEFORE_KILL)
        await new Promise((resolve) => setTimeout(resolve, 10));
      expect(sendersStopped, 'the senders were still storing when the node was killed').toBe(false);
      expect(await server.stop('SIGKILL')).toBeNull();
      await Promise.all(senders);

      server = await ServerProcess.start({ env: server.env, port: server.port });
      for (const [i, streamId] of streams.entries()) {
        const { uuids: stored } = await readStoredUuids(server, streamId);
        // Each sender waited for every answer, so the stream holds exactly its acknowledged sends, in order,
        // plus at most the one whose commit finished as the process died.
        expect(stored.slice(0, acknowledged[i].length)).toEqual(acknowledged[i]);
        expect(stored.length - acknowledged[i].length).toBeLessThanOrEqual(1);
        expect(new Set(stored).size).toBe(stored.length);
      }
    });
  });
}
