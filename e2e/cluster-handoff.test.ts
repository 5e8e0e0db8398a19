import { afterEach, describe, expect, it } from 'vitest';
import { drain, send, TestCluster } from './support/cluster.js';
import type { ServerProcess } from './support/server.js';

/**
 * Sends `count` numbered messages round-robin over `streams`, one after another (so each stream's order is
 * the send order), through the entry nodes `via()` picks. A 503 (a node draining, an owner moving) is
 * retried with the same messageUuid, as a client would; dedup keeps a retry from adding a second copy.
 */
async function sendNumbered(
  streams: string[],
  count: number,
  via: (i: number) => ServerProcess,
  during?: (i: number) => void,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    during?.(i);
    for (let attempt = 0; ; attempt++) {
      const res = await via(i + attempt)
        .send({ streamId: streams[i % streams.length], messageUuid: `n-${i}`, message: i, inMemoryStreamSize: 5000 })
        .catch(() => undefined);
      if (res?.status === 200) break;
      if (attempt > 200) throw new Error(`message ${i} not accepted: ${res?.status} ${await res?.text()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Each stream holds exactly its share of 0..count-1, in order. */
async function expectAllInOrder(node: ServerProcess, streams: string[], count: number): Promise<void> {
  for (let s = 0; s < streams.length; s++) {
    const expected = Array.from({ length: count }, (_, i) => i).filter((i) => i % streams.length === s);
    expect(
      (await drain(node, streams[s], 1000)).map((m) => m.message),
      streams[s],
    ).toEqual(expected);
  }
}

describe('hand-off between owners', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
  });

  it('SIGTERM of an owner holding 1,000 buffered messages: all 1,000 come from the new owner, in order', async () => {
    cluster = await TestCluster.start(3);
    const streamId = await cluster.streamOwnedBy('node-2', 'drain-1000');
    for (let i = 0; i < 1000; i++)
      await send(
        cluster.node(i % 2 === 0 ? 'node-1' : 'node-3'),
        streamId,
        `h-${i}`,
        { seq: i },
        { inMemoryStreamSize: 1000 },
      );

    const started = performance.now();
    expect(await cluster.kill('node-2', 'SIGTERM')).toBe(0);
    console.log(`SIGTERM with 1,000 buffered messages: exited after ${Math.round(performance.now() - started)} ms`);
    await cluster.waitForRing(['node-1', 'node-3']);

    const received: unknown[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const via = cluster.node(batch % 2 === 0 ? 'node-3' : 'node-1');
      received.push(...(await drain(via, streamId, 100)).map((m) => m.message));
    }
    expect(received).toEqual(Array.from({ length: 1000 }, (_, i) => ({ seq: i })));
    expect(await drain(cluster.node('node-1'), streamId)).toEqual([]);
  });

  it('two owners stopped together: what both held ends at the third node, in order', async () => {
    cluster = await TestCluster.start(3);
    const live = cluster;
    const streams = [
      ...(await Promise.all([0, 1, 2, 3].map((i) => live.streamOwnedBy('node-1', `pair-a${i}`)))),
      ...(await Promise.all([0, 1, 2, 3].map((i) => live.streamOwnedBy('node-2', `pair-b${i}`)))),
    ];
    await sendNumbered(streams, 400, () => live.node('node-3'));
    const [first, second] = await Promise.all([live.kill('node-1', 'SIGTERM'), live.kill('node-2', 'SIGTERM')]);
    expect([first, second]).toEqual([0, 0]);
    await live.waitForRing(['node-3']);
    await expectAllInOrder(live.node('node-3'), streams, 400);
  });

  it('messages sent while a node joins are neither lost nor reordered', async () => {
    cluster = await TestCluster.start(3, {}, 2);
    const live = cluster;
    const streams = Array.from({ length: 24 }, (_, i) => `join-${i}`);
    let joining: Promise<unknown> | undefined;
    await sendNumbered(
      streams,
      1200,
      (i) => live.node(i % 2 === 0 ? 'node-1' : 'node-2'),
      (i) => {
        if (i === 300) joining = live.startNode('node-3');
      },
    );
    await joining;
    await live.waitForRing(['node-1', 'node-2', 'node-3']);
    const owners = new Set(await Promise.all(streams.map((streamId) => live.ownerOf(streamId))));
    expect(owners.has('node-3')).toBe(true);
    await expectAllInOrder(live.node('node-3'), streams, 1200);
  });

  it('messages sent while an owner drains are neither lost nor reordered', async () => {
    cluster = await TestCluster.start(3);
    const live = cluster;
    const streams = Array.from({ length: 24 }, (_, i) => `leave-${i}`);
    let leaving: Promise<unknown> | undefined;
    await sendNumbered(
      streams,
      1200,
      (i) => live.node(i % 2 === 0 ? 'node-1' : 'node-3'),
      (i) => {
        if (i === 600) leaving = live.kill('node-2', 'SIGTERM');
      },
    );
    expect(await leaving).toBe(0);
    await live.waitForRing(['node-1', 'node-3']);
    await expectAllInOrder(live.node('node-1'), streams, 1200);
  });
});
