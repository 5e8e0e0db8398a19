import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { expectError } from './support/api-helpers.js';
import { drain, freeUdpPort, send, type ClusterView } from './support/cluster.js';
import { freePortRange } from './support/ports.mjs';
import { ServerProcess } from './support/server.js';
import { bearer, signToken, TEST_JWT_SECRET } from './support/tokens.js';

const WORKERS = 2;

/** The worker processes the machine's primary has forked, by pid. */
function workerPids(primary: ServerProcess): number[] {
  const pid = primary.child.pid!;
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

/** Polls `check` until it returns true. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

/** The ring as the node on `port` sees it. */
async function ringOf(port: number, headers: Record<string, string> = {}): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/cluster`, { headers });
  return ((await res.json()) as ClusterView).ring;
}

/** A worker's own port: requests there enter that worker (the shared port may reach either). */
function workerAt(port: number, headers: Record<string, string> = {}) {
  const url = `http://127.0.0.1:${port}`;
  return {
    send: (body: object) =>
      fetch(`${url}/api/v1/streams/send`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    receive: (query: Record<string, string | number>, signal?: AbortSignal) =>
      fetch(`${url}/api/v1/streams/receive?${new URLSearchParams(query as Record<string, string>)}`, {
        headers,
        signal,
      }),
    owner: async (streamId: string) => {
      const res = await fetch(`${url}/api/v1/cluster/owner?streamId=${streamId}`, { headers });
      return ((await res.json()) as { owner: string }).owner;
    },
    /** A metric's value (the sum over its series). */
    metric: async (name: string) => {
      let sum = 0;
      for (const line of (await (await fetch(`${url}/metrics`)).text()).split('\n'))
        if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
          sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      return sum;
    },
  };
}
type WorkerAt = ReturnType<typeof workerAt>;

/** A new stream id that `owner` owns, as `via` routes. */
async function streamOwnedBy(via: WorkerAt, owner: string, label: string): Promise<string> {
  for (let i = 0; ; i++) {
    const streamId = `${label}-${i}`;
    if ((await via.owner(streamId)) === owner) return streamId;
  }
}

describe('node.workers', { timeout: 240_000 }, () => {
  const running: ServerProcess[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((server) => server.stop('SIGKILL')));
  });

  /**
   * A machine of WORKERS workers sharing port `base`, worker i on base + i and gossiping on base + i;
   * resolves once every worker's ring holds all of them.
   */
  async function startMachine(
    base: number,
    env: Record<string, string> = {},
    headers: Record<string, string> = {},
  ): Promise<ServerProcess> {
    // Several processes start at once: on a busy two-core machine that takes a while.
    const machine = await ServerProcess.start({
      port: base,
      startTimeoutMs: 90_000,
      env: {
        IPUBSUB_NODE_NAME: 'machine',
        IPUBSUB_NODE_WORKERS: String(WORKERS),
        IPUBSUB_STORE_ALLOWNODELOCALINCLUSTER: 'true',
        IPUBSUB_CLUSTER_GOSSIP_PORT: String(base),
        IPUBSUB_CLUSTER_GOSSIP_PROTOCOL_PERIOD_MS: '100',
        ...env,
      },
    });
    running.push(machine);
    const names = Array.from({ length: WORKERS }, (_, i) => `machine-w${i + 1}`);
    for (let i = 1; i <= WORKERS; i++) {
      await until(`worker ${i} ready with every worker in its ring`, async () => {
        const ring = await ringOf(base + i, headers);
        return names.every((name) => ring.includes(name));
      });
    }
    return machine;
  }

  it('workers share the public port, each a ring member on its own port; a killed worker comes back', async () => {
    const base = await freePortRange(WORKERS + 1);
    const machine = await startMachine(base);
    expect(workerPids(machine)).toHaveLength(WORKERS);
    for (let i = 1; i <= WORKERS; i++) {
      const view = (await (await fetch(`http://127.0.0.1:${base + i}/api/v1/cluster`)).json()) as ClusterView;
      expect(view.self).toBe(`machine-w${i}`);
      expect(view.ring.sort()).toEqual(['machine-w1', 'machine-w2']);
    }

    // Through the shared port: streams of both owners, whichever worker each connection reaches.
    const streams = Array.from({ length: 20 }, (_, i) => `shared-${i}`);
    for (const [i, streamId] of streams.entries()) await send(machine, streamId, `m-${i}`, i);
    for (const [i, streamId] of streams.entries())
      expect((await drain(machine, streamId)).map((m) => m.message)).toEqual([i]);

    const [victim] = workerPids(machine);
    process.kill(victim, 'SIGKILL');
    await until('a new worker in place of the killed one', async () => {
      const pids = workerPids(machine);
      return pids.length === WORKERS && !pids.includes(victim);
    });
    for (let i = 1; i <= WORKERS; i++) {
      await until(`worker ${i} back in every ring`, async () => (await ringOf(base + i)).length === WORKERS);
    }
    await send(machine, 'after-restart', 'm-after', 'back');
    expect((await drain(machine, 'after-restart')).map((m) => m.message)).toEqual(['back']);
  });

  it('SIGTERM drains the workers one by one: every buffered message is handed off, the primary exits 0', async () => {
    // Another node in the same cluster, where the machine's streams end up once all of its workers have left.
    const [otherGossip, machineBase] = [await freeUdpPort(), await freePortRange(WORKERS + 1)];
    const seeds = [`127.0.0.1:${otherGossip}`, `127.0.0.1:${machineBase + 1}`].join(',');
    const other = await ServerProcess.start({
      env: {
        IPUBSUB_NODE_NAME: 'other',
        IPUBSUB_STORE_ALLOWNODELOCALINCLUSTER: 'true',
        IPUBSUB_CLUSTER_GOSSIP_PORT: String(otherGossip),
        IPUBSUB_CLUSTER_SEEDS: seeds,
        IPUBSUB_CLUSTER_GOSSIP_PROTOCOL_PERIOD_MS: '100',
      },
      waitReady: false,
      startTimeoutMs: 90_000,
    });
    running.push(other);
    const machine = await startMachine(machineBase, { IPUBSUB_CLUSTER_SEEDS: seeds });
    await until('a ring of three', async () => (await ringOf(other.port)).length === WORKERS + 1);
    for (let i = 1; i <= WORKERS; i++)
      await until(`worker ${i} sees the ring of three`, async () => (await ringOf(machineBase + i)).length === 3);

    const streams = Array.from({ length: 60 }, (_, i) => `handed-${i}`);
    for (const [i, streamId] of streams.entries()) {
      await send(machine, streamId, `a-${i}`, i);
      await send(machine, streamId, `b-${i}`, i + 1000);
    }
    expect(await machine.stop('SIGTERM', 60_000)).toBe(0);
    running.splice(running.indexOf(machine), 1);

    for (const [i, streamId] of streams.entries())
      expect(
        (await drain(other, streamId)).map((m) => m.message),
        streamId,
      ).toEqual([i, i + 1000]);
  });

  it('forwards between workers over their channel: long polls woken across workers, large bodies, hang-ups', async () => {
    const base = await freePortRange(WORKERS + 1);
    const machine = await startMachine(base);
    const [w1, w2] = [workerAt(base + 1), workerAt(base + 2)];
    const channelCalls = await w1.metric('ipubsub_worker_channel_calls_total');

    // A long poll entering worker 1 waits at worker 2, the owner; a send entering worker 2 wakes it.
    const streamId = await streamOwnedBy(w1, 'machine-w2', 'parked');
    const polling = w1.receive({ streamId, timeoutSeconds: 60 });
    await until('the poll parked at its owner', async () => (await w2.metric('ipubsub_waiting_clients')) === 1);
    expect((await w2.send({ streamId, messageUuid: 'wake', message: { n: 1 } })).status).toBe(200);
    const woken = await polling;
    expect(woken.status).toBe(200);
    expect(((await woken.json()) as { message: unknown }).message).toEqual({ n: 1 });

    // Both ways through the channel, with a body far larger than one socket read, and the owner's answers kept.
    const large = 'x'.repeat(700_000);
    expect((await w1.send({ streamId, messageUuid: 'large', message: large })).status).toBe(200);
    const taken = await w1.receive({ streamId, timeoutSeconds: 0 });
    expect(((await taken.json()) as { message: unknown }).message).toBe(large);
    await expectError(await w1.receive({ streamId, timeoutSeconds: 0 }), 424, 'NO_MESSAGE');
    const tooLarge = await w1.send({ streamId, messageUuid: 'full', message: 1, inMemoryStreamSize: 10_000_000 });
    await expectError(tooLarge, 400, 'INVALID_REQUEST');
    // Within the limit as sent, several times over it were it serialized again (`1e20` is 21 digits): the owner
    // gets the bytes the client sent, and the value comes back.
    const expanding = `{"streamId":"${streamId}","messageUuid":"x","message":["\\u00e9",${'1e20,'.repeat(200_000)}1]}`;
    const forwarded = await fetch(`http://127.0.0.1:${base + 1}/api/v1/streams/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: expanding,
    });
    expect(forwarded.status, await forwarded.text()).toBe(200);
    const expanded = (await (await w2.receive({ streamId, timeoutSeconds: 0 })).json()) as { message: unknown[] };
    expect(expanded.message).toHaveLength(200_002);
    expect(expanded.message.slice(0, 2)).toEqual(['\u00e9', 1e20]);
    expect(await w1.metric('ipubsub_worker_channel_calls_total')).toBeGreaterThanOrEqual(channelCalls + 5);

    // A client hanging up ends its poll at the owner, and the next message goes to the next receiver.
    const controller = new AbortController();
    const abandoned = w1.receive({ streamId, timeoutSeconds: 60 }, controller.signal).catch(() => 'aborted');
    await until('the poll parked at its owner', async () => (await w2.metric('ipubsub_waiting_clients')) === 1);
    controller.abort();
    expect(await abandoned).toBe('aborted');
    await until('the owner let the poll go', async () => (await w2.metric('ipubsub_waiting_clients')) === 0);
    expect((await w2.send({ streamId, messageUuid: 'after', message: 2 })).status).toBe(200);
    const next = await w1.receive({ streamId, timeoutSeconds: 0 });
    expect(((await next.json()) as { messageUuid: string }).messageUuid).toBe('after');

    // The workers' socket directory goes even when the primary is killed.
    const environ = readFileSync(`/proc/${workerPids(machine)[0]}/environ`, 'utf8').split('\0');
    const sockets = environ.find((v) => v.startsWith('IPUBSUB_WORKER_SOCKETS='))!.split('=')[1];
    expect(existsSync(sockets)).toBe(true);
    await machine.stop('SIGKILL');
    await until('the socket directory removed', () => Promise.resolve(!existsSync(sockets)));
  });

  it('a worker crashing with forwarded requests in flight: clean 503s at once, and its restart rejoins', async () => {
    const base = await freePortRange(WORKERS + 1);
    const machine = await startMachine(base);
    const [w1, w2] = [workerAt(base + 1), workerAt(base + 2)];
    const streams = await Promise.all([0, 1, 2].map((i) => streamOwnedBy(w1, 'machine-w2', `crash${i}`)));
    const polls = streams.map((streamId) => w1.receive({ streamId, timeoutSeconds: 120 }));
    await until('the polls parked at their owner', async () => (await w2.metric('ipubsub_waiting_clients')) === 3);

    const victim = workerPids(machine).find((pid) =>
      readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('IPUBSUB_WORKER_INDEX=2'),
    )!;
    process.kill(victim, 'SIGKILL');
    for (const answer of await Promise.all(polls)) await expectError(answer, 503, 'OWNER_UNAVAILABLE');

    await until('worker 2 back in both rings', async () => {
      const rings = await Promise.all([ringOf(base + 1), ringOf(base + 2)]);
      return rings.every((ring) => ring.length === WORKERS);
    });
    const [streamId] = streams;
    await until('worker 2 owns its streams again', async () => (await w1.owner(streamId)) === 'machine-w2');
    const polling = w1.receive({ streamId, timeoutSeconds: 60 });
    await until('the poll parked at its owner', async () => (await w2.metric('ipubsub_waiting_clients')) === 1);
    expect((await w1.send({ streamId, messageUuid: 'back', message: 'back' })).status).toBe(200);
    expect((await polling).status).toBe(200);
  });

  it('with auth.mode jwt the entry worker decides, and the owner serves only what its signed grant names', async () => {
    const token = await signToken(TEST_JWT_SECRET, { send: ['orders.*'], receive: ['orders.*'] });
    const env = {
      IPUBSUB_AUTH_MODE: 'jwt',
      IPUBSUB_AUTH_JWT_SECRET: TEST_JWT_SECRET,
      IPUBSUB_CLUSTER_SECRET: 'e2e-cluster-secret-0123456789abcdefghij',
    };
    const base = await freePortRange(WORKERS + 1);
    await startMachine(base, env, bearer(token));
    const w1 = workerAt(base + 1, bearer(token));
    const streamId = await streamOwnedBy(w1, 'machine-w2', 'orders.auth');
    expect((await w1.send({ streamId, messageUuid: 'a-1', message: 1 })).status).toBe(200);
    const taken = await w1.receive({ streamId, timeoutSeconds: 0 });
    expect(((await taken.json()) as { message: unknown }).message).toBe(1);
    expect(await w1.metric('ipubsub_worker_channel_calls_total')).toBeGreaterThanOrEqual(2);
    // Refused where it enters: outside the token's scopes, or without a token.
    const elsewhere = await streamOwnedBy(w1, 'machine-w2', 'payments');
    await expectError(await w1.send({ streamId: elsewhere, messageUuid: 'a-2', message: 1 }), 403, 'FORBIDDEN');
    await expectError(await workerAt(base + 1).send({ streamId, messageUuid: 'a-3', message: 1 }), 401, 'UNAUTHORIZED');
  });
});
