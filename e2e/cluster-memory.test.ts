import { afterEach, describe, expect, it } from 'vitest';
import { expectError, scrapeMetrics } from './support/api-helpers.js';
import { drain, send, TestCluster } from './support/cluster.js';

/**
 * The memory budget in a cluster is the owner's: a forwarded send counts there and its 503 reaches the client
 * as the owner wrote it; a hand-off to a member without room is refused, and the leaving node keeps its
 * messages and offers them again until they fit. Budgets of 1 MiB, messages of about 200 KiB.
 */

const BUDGET = { IPUBSUB_LIMITS_MAXBUFFEREDBYTES: String(1024 * 1024) };
const big = (tag: string): string => tag + 'x'.repeat(200 * 1024);

async function metric(node: Parameters<typeof scrapeMetrics>[0], name: string): Promise<number> {
  return (await scrapeMetrics(node)).get(name) ?? 0;
}

describe('memory budget in a cluster', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
  });

  it('counts a forwarded send on the owner, whose 503 MEMORY_FULL reaches the client with Retry-After', async () => {
    cluster = await TestCluster.start(2, BUDGET);
    const streamId = await cluster.streamOwnedBy('node-2', 'forwarded');
    const entry = cluster.node('node-1');
    for (let i = 0; i < 5; i++) await send(entry, streamId, `m${i}`, big(`${i}`));
    expect(await metric(cluster.node('node-2'), 'ipubsub_buffered_bytes')).toBeGreaterThan(5 * 200 * 1024);
    expect(await metric(entry, 'ipubsub_buffered_bytes')).toBe(0);

    const refused = await entry.send({ streamId, messageUuid: 'm5', message: big('5') });
    expect(refused.headers.get('retry-after')).toBe('1');
    await expectError(refused, 503, 'MEMORY_FULL');
    expect(await metric(cluster.node('node-2'), 'ipubsub_refusals_total{reason="memory_full"}')).toBe(1);
    expect((await drain(entry, streamId)).map((m) => m.messageUuid)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('a hand-off the new owner has no room for is refused, kept, and completed once there is room', async () => {
    cluster = await TestCluster.start(2, BUDGET);
    const live = cluster;
    const kept = await Promise.all([0, 1, 2, 3].map((i) => live.streamOwnedBy('node-1', `kept-${i}`)));
    const moving = await live.streamOwnedBy('node-2', 'moving');
    for (const streamId of kept) await send(live.node('node-1'), streamId, 'k', big('k'));
    await send(live.node('node-2'), moving, 'a', big('a'));
    await send(live.node('node-2'), moving, 'b', big('b'));

    // node-1 holds about 800 KiB of its own: node-2's 400 KiB do not fit.
    const node2 = live.node('node-2');
    const leaving = live.kill('node-2', 'SIGTERM');
    const node1 = live.node('node-1');
    await expect
      .poll(() => metric(node1, 'ipubsub_refusals_total{reason="memory_full"}'), { timeout: 10_000 })
      .toBeGreaterThanOrEqual(1);
    // Still handing off, so still answering: its lifecycle is draining, and it is not ready.
    const ready = await fetch(`${node2.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ code: 'NOT_READY', checks: { node: 'draining' } });
    expect(await metric(node2, 'ipubsub_node_state{state="draining"}')).toBe(1);
    for (const streamId of kept.slice(0, 2)) expect((await drain(node1, streamId)).length).toBe(1);

    expect(await leaving).toBe(0);
    await live.waitForRing(['node-1']);
    expect((await drain(node1, moving)).map((m) => m.messageUuid)).toEqual(['a', 'b']);
    for (const streamId of kept.slice(2)) expect((await drain(node1, streamId)).length).toBe(1);
    expect(await metric(node1, 'ipubsub_buffered_bytes')).toBe(0);
  });
});
