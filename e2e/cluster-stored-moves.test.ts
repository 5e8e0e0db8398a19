import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ring } from '../apps/server/src/cluster/ring.js';
import {
  createScratchDatabase,
  testServerUrl,
  type ScratchDatabase,
} from '../apps/server/src/store/testing/scratch-database.js';
import { expectError, stillPendingAfter, timed, uniqueStreamId, waitForGauge } from './support/api-helpers.js';
import { TestCluster } from './support/cluster.js';
import type { ServerProcess } from './support/server.js';

const serverUrl = testServerUrl('postgres');
const WAITING = 'ipubsub_store_waiting_readers';
/** Long enough that an answer at the timeout could never pass for a prompt one. */
const POLL_SECONDS = 20;
/**
 * A reader answered sooner than this was woken by the send, not by its poll running out; the wide margin keeps a
 * loaded machine from passing for the alternative (how fast is bench/'s business).
 */
const WOKEN_BEFORE_MS = (POLL_SECONDS * 1000) / 2;

interface StoredMessage {
  messageUuid: string;
  message: unknown;
  dbResumeToken: string;
}

/** The owner a ring of these members gives the stream (the nodes compute the same). */
function ownerAmong(names: string[], streamId: string): string {
  return new Ring(
    names.map((name) => ({ name, http: '' })),
    0,
  ).owner(streamId)!.name;
}

/** A new stream id owned by `before` among the first members and by `after` once `all` are members. */
function streamMoving(before: string, members: string[], after: string, all: string[]): string {
  for (;;) {
    const streamId = uniqueStreamId('moving');
    if (ownerAmong(members, streamId) === before && ownerAmong(all, streamId) === after) return streamId;
  }
}

function poll(node: ServerProcess, streamId: string): Promise<Response> {
  return node.receive({ streamId, readFromDB: true, timeoutSeconds: POLL_SECONDS });
}

async function sendStored(node: ServerProcess, streamId: string, messageUuid: string, message: unknown): Promise<void> {
  const res = await node.send({ streamId, messageUuid, message, writeToDB: true });
  expect(res.status, await res.clone().text()).toBe(200);
}

async function expectMessage(res: Response, message: unknown): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect((JSON.parse(text) as StoredMessage).message).toBe(message);
}

describe.runIf(serverUrl !== null)('stored long polls whose stream changes owner (three nodes, PostgreSQL)', () => {
  let database: ScratchDatabase;
  let cluster: TestCluster;

  beforeAll(async () => {
    database = await createScratchDatabase('postgres', serverUrl!);
    // node-3 joins during the first test. node-2 starts once node-1 has created the schema: TypeORM creates its
    // migrations table outside the schema lock, so two nodes opening an empty database at once can collide.
    cluster = await TestCluster.start(3, { IPUBSUB_STORE_TYPE: 'postgres', IPUBSUB_STORE_URL: database.url }, 1);
    await cluster.startNode('node-2');
    await cluster.waitForRing(['node-1', 'node-2']);
  });
  afterAll(async () => {
    await cluster?.stop();
    await database?.drop();
  });

  it('a node joins and takes the stream: readers parked at the old owner go on to it and get the next message', async () => {
    const streamId = streamMoving('node-1', ['node-1', 'node-2'], 'node-3', ['node-1', 'node-2', 'node-3']);
    expect(await cluster.ownerOf(streamId)).toBe('node-1');
    const direct = poll(cluster.node('node-1'), streamId);
    const forwarded = poll(cluster.node('node-2'), streamId);
    await waitForGauge(cluster.node('node-1'), WAITING, 2);

    await cluster.startNode('node-3');
    await cluster.waitForRing(['node-1', 'node-2', 'node-3']);
    // Not answered: re-routed to the new owner with the time they have left, and waiting there.
    await waitForGauge(cluster.node('node-3'), WAITING, 2);
    await waitForGauge(cluster.node('node-1'), WAITING, 0);
    expect(await stillPendingAfter(Promise.race([direct, forwarded]), 0)).toBe(true);

    const sentAt = performance.now();
    await sendStored(cluster.node('node-2'), streamId, 'joined-1', 'after the join');
    const [[directRes, directMs], [forwardedRes, forwardedMs]] = await Promise.all([
      timed(direct, sentAt),
      timed(forwarded, sentAt),
    ]);
    console.info(
      `stored send after a join: readers parked at the old owner woke ${directMs.toFixed(0)} / ${forwardedMs.toFixed(0)} ms after it`,
    );
    await expectMessage(directRes, 'after the join');
    await expectMessage(forwardedRes, 'after the join');
    expect(Math.max(directMs, forwardedMs)).toBeLessThan(WOKEN_BEFORE_MS);
  });

  it('the owner leaves (SIGTERM): a forwarded reader goes on to the new owner, a direct one is told to poll again', async () => {
    const streamId = await cluster.streamOwnedBy('node-1', 'leaving');
    const successor = ownerAmong(['node-2', 'node-3'], streamId);
    const forwarded = poll(cluster.node('node-2'), streamId);
    const direct = poll(cluster.node('node-1'), streamId);
    // An in-memory receiver of the same stream: the hand-off says it moved, not that the cluster is going away.
    const inMemory = cluster.node('node-1').receive({ streamId, timeoutSeconds: POLL_SECONDS });
    await waitForGauge(cluster.node('node-1'), WAITING, 2);
    await waitForGauge(cluster.node('node-1'), 'ipubsub_waiting_clients', 1);

    const stoppedAt = performance.now();
    const directAnswer = timed(direct, stoppedAt);
    expect(await cluster.kill('node-1', 'SIGTERM')).toBe(0);
    const [directRes, directMs] = await directAnswer;
    // Told before the node exited, so not by its poll running out.
    for (const res of [directRes, await inMemory]) {
      const body = await expectError(res, 424, 'NO_MESSAGE');
      expect(body.error).toBe('stream moved to another node; poll again');
    }

    await cluster.waitForRing(['node-2', 'node-3']);
    await waitForGauge(cluster.node(successor), WAITING, 1);
    const sentAt = performance.now();
    await sendStored(cluster.node('node-3'), streamId, 'left-1', 'after the leave');
    const [forwardedRes, forwardedMs] = await timed(forwarded, sentAt);
    const sinceStop = performance.now() - stoppedAt;
    console.info(
      `owner SIGTERM: direct reader answered 424 after ${directMs.toFixed(0)} ms; the forwarded one, re-routed to ${successor}, ` +
        `got the next stored message ${forwardedMs.toFixed(0)} ms after its send (${sinceStop.toFixed(0)} ms after SIGTERM)`,
    );
    await expectMessage(forwardedRes, 'after the leave');
    expect(forwardedMs).toBeLessThan(WOKEN_BEFORE_MS);
    // The direct reader's next poll reaches the new owner and reads what was stored meanwhile.
    await expectMessage(await poll(cluster.node('node-2'), streamId), 'after the leave');
  });

  it('the owner leaves and its forwarded reader lands on the forwarding node: it waits there only for the time it has left', async () => {
    const streamId = await cluster.streamOwnedBy('node-3', 'landing');
    const seconds = 8;
    const beforeLeaving = 4_000;
    const startedAt = performance.now();
    const forwarded = timed(
      cluster.node('node-2').receive({ streamId, readFromDB: true, timeoutSeconds: seconds }),
      startedAt,
    );
    await waitForGauge(cluster.node('node-3'), WAITING, 1);
    await new Promise((resolve) => setTimeout(resolve, beforeLeaving));

    // node-2 is the only member left: the poll node-3 lets go comes back to it, as a local one.
    expect(await cluster.kill('node-3', 'SIGTERM')).toBe(0);
    await waitForGauge(cluster.node('node-2'), WAITING, 1);
    const [res, ms] = await forwarded;
    console.info(
      `a ${seconds} s poll re-routed onto its forwarding node after its owner left answered after ${ms.toFixed(0)} ms`,
    );
    await expectError(res, 424, 'NO_MESSAGE');
    // Its deadline stays the client's (to the whole second on the wire), not 8 s from the re-route, which would
    // answer after `seconds` + `beforeLeaving` at the earliest; the bound sits halfway, for a loaded machine.
    expect(ms).toBeGreaterThan((seconds - 1) * 1000);
    expect(ms).toBeLessThan(seconds * 1000 + beforeLeaving / 2);
  });
});
