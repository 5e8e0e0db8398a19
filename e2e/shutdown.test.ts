import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { expectError, uniqueStreamId, waitForWaiters } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';

/** SIGTERM drain: waiting clients are answered at once, new work is refused, the process exits 0 quickly. */

let server: ServerProcess | undefined;

// Bounds tell a drain from its alternatives, not how fast it is (a busy machine is slow without a bug): the
// receivers would otherwise be answered at their 60 s timeout, and the process would exit when the grace ends.
const GRACE = { IPUBSUB_SHUTDOWN_GRACESECONDS: '60' };
const WELL_BEFORE_MS = 30_000;

afterEach(async () => {
  await server?.stop('SIGKILL');
  server = undefined;
});

describe('SIGTERM', () => {
  it('answers every waiting receiver 424 at once, refuses new requests, and exits 0 without waiting the grace', async () => {
    server = await ServerProcess.start({ env: GRACE });
    const node = server;
    const streams = [0, 1, 2].map((i) => uniqueStreamId(`drain-${i}`));
    const receivers = streams.flatMap((streamId) => [0, 1].map(() => node.receive({ streamId, timeoutSeconds: 60 })));
    const full = uniqueStreamId('drain-full');
    const options = { inMemoryStreamSize: 1, blockingSendTimeoutSeconds: 60 };
    expect((await node.send({ streamId: full, messageUuid: 'm0', message: 0, ...options })).status).toBe(200);
    const blockedSend = node.send({ streamId: full, messageUuid: 'm1', message: 1, ...options });
    await waitForWaiters(node, receivers.length + 1);

    const exit = once(node.child, 'exit');
    const signalledAt = performance.now();
    node.child.kill('SIGTERM');

    const answeredAfter = await Promise.all(
      receivers.map(async (pending) => {
        const res = await pending;
        await expectError(res, 424, 'NO_MESSAGE');
        return performance.now() - signalledAt;
      }),
    );
    await expectError(await blockedSend, 503, 'SHUTTING_DOWN');

    // New requests while draining: a JSON 503, or no connection at all once the listener is closed.
    const late: string[] = [];
    for (let i = 0; i < 5; i++) {
      for (const request of [
        () => node.send({ streamId: full, messageUuid: `late-${i}`, message: i }),
        () => node.receive({ streamId: streams[0], timeoutSeconds: 5 }),
      ]) {
        try {
          await expectError(await request(), 503, 'SHUTTING_DOWN');
          late.push('503');
        } catch (err) {
          expect((err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message).toMatch(
            /ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET/,
          );
          late.push('refused');
        }
      }
    }

    const [code] = (await exit) as [number | null];
    const exitedAfter = performance.now() - signalledAt;
    const slowestAnswer = Math.max(...answeredAfter);
    console.info(
      `SIGTERM: ${receivers.length} waiting receivers answered 424 within ${slowestAnswer.toFixed(0)} ms; ` +
        `process exited ${code} after ${exitedAfter.toFixed(0)} ms; late requests: ${late.join(', ')}`,
    );
    expect(slowestAnswer).toBeLessThan(WELL_BEFORE_MS);
    expect(code).toBe(0);
    expect(exitedAfter).toBeLessThan(WELL_BEFORE_MS);
  });

  it('SIGINT drains the same way', async () => {
    server = await ServerProcess.start({ env: GRACE });
    const streamId = uniqueStreamId('sigint');
    const waiting = server.receive({ streamId, timeoutSeconds: 60 });
    await waitForWaiters(server, 1);
    const startedAt = performance.now();
    const code = await server.stop('SIGINT', 90_000);
    const ms = performance.now() - startedAt;
    await expectError(await waiting, 424, 'NO_MESSAGE');
    console.info(`SIGINT with one waiting receiver: exit ${code} after ${ms.toFixed(0)} ms`);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(WELL_BEFORE_MS);
  });
});

describe('SIGTERM with connections that never sent a request', () => {
  it('closes them instead of waiting for them until the grace runs out', async () => {
    server = await ServerProcess.start({ env: { IPUBSUB_SHUTDOWN_GRACESECONDS: '120', IPUBSUB_LOG_LEVEL: 'info' } });
    // As fetch and browsers open spare connections: connected, nothing sent.
    const spare = connect(server.port, '127.0.0.1');
    await once(spare, 'connect');
    const closed = once(spare, 'close');
    expect(await server.stop('SIGTERM', 110_000)).toBe(0);
    await closed;
    expect(server.log).toContain('"msg":"stopped"');
    expect(server.log).not.toContain('drain took longer');
  });
});
