import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createScratchDatabase,
  testServerUrl,
  type ScratchDatabase,
} from '../apps/server/src/store/testing/scratch-database.js';
import { TestCluster } from './support/cluster.js';
import type { ServerProcess } from './support/server.js';
import { EventStreamReader } from './support/sse.js';

const serverUrl = testServerUrl('postgres');

async function sendStored(node: ServerProcess, streamId: string, messageUuid: string): Promise<void> {
  const res = await node.send({ streamId, messageUuid, message: messageUuid, writeToDB: true });
  expect(res.status, await res.clone().text()).toBe(200);
}

const tailUrl = (node: ServerProcess, streamId: string): string =>
  `${node.url}/api/v1/streams/events?streamId=${encodeURIComponent(streamId)}`;

const uuids = (events: { data: string }[]): string[] =>
  events.map((e) => (JSON.parse(e.data) as { messageUuid: string }).messageUuid);

describe.runIf(serverUrl !== null)('live tail in a cluster sharing PostgreSQL', () => {
  let database: ScratchDatabase;
  let cluster: TestCluster;

  beforeAll(async () => {
    database = await createScratchDatabase('postgres', serverUrl!);
    cluster = await TestCluster.start(3, {
      IPUBSUB_STORE_TYPE: 'postgres',
      IPUBSUB_STORE_URL: database.url,
      IPUBSUB_EVENTS_HEARTBEATSECONDS: '0.5',
    });
  });
  afterAll(async () => {
    await cluster?.stop();
    await database?.drop();
  });

  it('a tail opened through a non-owner is relayed live from the owner', async () => {
    const streamId = await cluster.streamOwnedBy('node-1', 'tail-relay');
    await sendStored(cluster.node('node-3'), streamId, 'before');
    const reader = await EventStreamReader.open(tailUrl(cluster.node('node-2'), streamId));
    expect(reader.response.status).toBe(200);
    expect(reader.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(uuids(await reader.messages(1))).toEqual(['before']);
    await sendStored(cluster.node('node-3'), streamId, 'live');
    expect(uuids(await reader.messages(1))).toEqual(['live']);
    reader.close();
  });

  it('when the owner leaves, the tail ends and resumes through any member with neither gap nor duplicate', async () => {
    const streamId = await cluster.streamOwnedBy('node-1', 'tail-move');
    for (const id of ['a', 'b']) await sendStored(cluster.node('node-2'), streamId, id);
    const reader = await EventStreamReader.open(tailUrl(cluster.node('node-2'), streamId));
    const seen = await reader.messages(2);
    await cluster.kill('node-1', 'SIGTERM');
    await reader.closed; // the owner ended the tail as it left
    await cluster.waitForRing(['node-2', 'node-3']);
    await sendStored(cluster.node('node-3'), streamId, 'c');
    const resumed = await EventStreamReader.open(tailUrl(cluster.node('node-2'), streamId), {
      'last-event-id': seen[1].id!,
    });
    expect(uuids(await resumed.messages(1))).toEqual(['c']);
    await sendStored(cluster.node('node-2'), streamId, 'd');
    expect(uuids(await resumed.messages(1))).toEqual(['d']);
    resumed.close();
  });
});
