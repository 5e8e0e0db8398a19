import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterRouting } from '@ipubsub/sdk/wire';
import { freePort, ServerProcess } from './server.js';

/** A free UDP port on loopback, chosen by the OS. */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address();
  socket.close();
  return port;
}

export interface NodeSpec {
  readonly name: string;
  readonly httpPort: number;
  readonly gossipPort: number;
}

export interface ClusterView {
  cluster: string;
  self: string;
  joined: boolean;
  ringVersion: number;
  ring: string[];
  members: { name: string; state: string; incarnation: number; http: string; gossip: string }[];
  routing: ClusterRouting;
}

/**
 * Real node processes forming one cluster on loopback, each on free HTTP and gossip ports, started from
 * config/multi-node-<i>.yaml with the ports, seeds and name overridden by environment variables.
 */
export class TestCluster {
  readonly nodes = new Map<string, ServerProcess>();
  /** Each node's embedded-store directory, kept across restarts as a real node's disk is. */
  private readonly storePaths = new Map<string, string>();

  private constructor(
    readonly specs: NodeSpec[],
    private readonly env: Record<string, string>,
    /** Headers of the harness's own calls to the cluster API (a token, with `auth.mode: jwt`). */
    private readonly apiHeaders: Record<string, string>,
  ) {}

  /**
   * Plans `size` nodes (node-1 … node-n, all of them seeds) and starts the first `running` of them at once;
   * resolves when those are ready and agree on the ring.
   */
  static async start(
    size: number,
    env: Record<string, string> = {},
    running = size,
    apiHeaders: Record<string, string> = {},
  ): Promise<TestCluster> {
    const specs: NodeSpec[] = [];
    for (let i = 1; i <= size; i++)
      specs.push({ name: `node-${i}`, httpPort: await freePort(), gossipPort: await freeUdpPort() });
    const cluster = new TestCluster(specs, env, apiHeaders);
    const started = specs.slice(0, running).map((spec) => spec.name);
    try {
      // allSettled, not all: a node that fails must not leave the others starting unseen by stop() below.
      const starts = await Promise.allSettled(started.map((name) => cluster.startNode(name)));
      const failed = starts.find((start) => start.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      await cluster.waitForRing(started);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  get seeds(): string {
    return this.specs.map((spec) => `127.0.0.1:${spec.gossipPort}`).join(',');
  }

  node(name: string): ServerProcess {
    const node = this.nodes.get(name);
    if (node === undefined) throw new Error(`${name} is not running`);
    return node;
  }

  /** Running nodes other than `except`. */
  others(...except: string[]): ServerProcess[] {
    return [...this.nodes].filter(([name]) => !except.includes(name)).map(([, node]) => node);
  }

  /** (Re)starts a node of this cluster under its name, ports and store directory. */
  async startNode(name: string, env: Record<string, string> = {}, waitReady = true): Promise<ServerProcess> {
    const spec = this.specs.find((candidate) => candidate.name === name)!;
    const index = this.specs.indexOf(spec) + 1;
    let storePath = this.storePaths.get(name);
    if (storePath === undefined) this.storePaths.set(name, (storePath = mkdtempSync(join(tmpdir(), 'ipubsub-e2e-'))));
    const node = await ServerProcess.start({
      config: `config/multi-node-${((index - 1) % 3) + 1}.yaml`,
      port: spec.httpPort,
      waitReady,
      // Members start together, each waiting for its seeds: on a busy two-core machine that takes a while.
      startTimeoutMs: 60_000,
      env: {
        IPUBSUB_NODE_NAME: spec.name,
        IPUBSUB_CLUSTER_GOSSIP_PORT: String(spec.gossipPort),
        IPUBSUB_CLUSTER_SEEDS: this.seeds,
        IPUBSUB_STORE_PATH: storePath,
        ...this.env,
        ...env,
      },
    });
    this.nodes.set(name, node);
    return node;
  }

  /** SIGKILL (a crash) or SIGTERM (a drain); the node is no longer counted as running. */
  async kill(name: string, signal: NodeJS.Signals): Promise<number | null> {
    const node = this.node(name);
    this.nodes.delete(name);
    return node.stop(signal);
  }

  async view(node: ServerProcess): Promise<ClusterView> {
    const res = await fetch(`${node.url}/api/v1/cluster`, { headers: this.apiHeaders });
    if (res.status !== 200) throw new Error(`GET /api/v1/cluster answered ${res.status}`);
    return (await res.json()) as ClusterView;
  }

  /** The owner of a stream according to `via` (default: any running node). */
  async ownerOf(streamId: string, via = this.others()[0]): Promise<string> {
    const res = await fetch(`${via.url}/api/v1/cluster/owner?streamId=${encodeURIComponent(streamId)}`, {
      headers: this.apiHeaders,
    });
    return ((await res.json()) as { owner: string }).owner;
  }

  /** A new stream id whose owner is `owner` (ids are tried until the ring assigns one to it). */
  async streamOwnedBy(owner: string, label: string): Promise<string> {
    for (let i = 0; i < 1000; i++) {
      const streamId = `${label}-${i}-${Math.random().toString(36).slice(2, 8)}`;
      if ((await this.ownerOf(streamId)) === owner) return streamId;
    }
    throw new Error(`no stream id found for ${owner}`);
  }

  /**
   * Waits until every running node's ring is exactly `names`; resolves with how long that took (ms).
   * `start` lets the caller count from an earlier moment (the crash). The default deadline only stops a ring that
   * never converges: on a loaded machine a restarted node takes a while (how long: bench/failover.mjs).
   */
  async waitForRing(names: string[], timeoutMs = 45_000, start = performance.now()): Promise<number> {
    const want = [...names].sort().join(',');
    let last = '';
    while (performance.now() - start < timeoutMs) {
      const views = await Promise.all(this.others().map((node) => this.view(node).catch(() => undefined)));
      last = views.map((view) => `${view?.self}: ${view?.ring.join(',')}`).join('; ');
      if (views.every((view) => view !== undefined && view.ring.join(',') === want)) return performance.now() - start;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`rings did not converge on [${want}] within ${timeoutMs} ms; last seen ${last}`);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((node) => node.stop('SIGKILL')));
    this.nodes.clear();
  }
}

/** Sends one message; throws unless 200. */
export async function send(
  node: ServerProcess,
  streamId: string,
  messageUuid: string,
  message: unknown,
  extra: object = {},
): Promise<void> {
  const res = await node.send({ streamId, messageUuid, message, ...extra });
  if (res.status !== 200) throw new Error(`send to ${node.url} answered ${res.status}: ${await res.text()}`);
}

/** Receives up to `max` messages at once (timeout 0); an empty list on 424. */
export async function drain(
  node: ServerProcess,
  streamId: string,
  max = 1000,
): Promise<{ messageUuid: string; message: unknown }[]> {
  const res = await node.receive({ streamId, timeoutSeconds: 0, maxMessages: max });
  if (res.status === 424) return [];
  if (res.status !== 200) throw new Error(`receive at ${node.url} answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { messages: { messageUuid: string; message: unknown }[] }).messages;
}
