// Starting the servers under test as child processes, and reading their memory and CPU from /proc.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, freePortRange } from '../../e2e/support/ports.mjs';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** The deployed single-node configuration (CORS on, as a browser-facing node runs). */
export const SERVER_CONFIG = 'config/single-node.yaml';
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far, or undefined once it has gone. */
export function cpuSecondsOf(pid) {
  let stat;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** A server under test: its process, port, and probes of its resource use. */
export class ServerUnderTest {
  constructor(name, child, port, cleanup) {
    this.name = name;
    this.child = child;
    this.port = port;
    this.cleanup = cleanup;
    this.output = '';
    const collect = (chunk) => {
      this.output = (this.output + chunk).slice(-20_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
  }

  /**
   * The iPubSub node built in apps/server/dist (of this checkout, or of `root`), with `IPUBSUB_*` overrides on
   * top of the single-node config.
   */
  static async ipubsub(env = {}, root = REPO_ROOT, port = undefined) {
    port ??= await freePort();
    const storePath = mkdtempSync(join(tmpdir(), 'ipubsub-bench-'));
    const child = spawn(
      process.execPath,
      [join(root, 'apps/server/dist/main.js'), '--config', join(root, SERVER_CONFIG)],
      {
        env: {
          ...process.env,
          IPUBSUB_HTTP_HOST: '127.0.0.1',
          IPUBSUB_HTTP_PORT: String(port),
          IPUBSUB_LOG_LEVEL: 'warn',
          IPUBSUB_STORE_PATH: storePath,
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const server = new ServerUnderTest('iPubSub', child, port, () =>
      rmSync(storePath, { recursive: true, force: true }),
    );
    // Generous: on a machine busy with other work, a node (or its workers) can take tens of seconds to start.
    await server.waitReady(120_000);
    return server;
  }

  /**
   * An iPubSub node of `workers` worker processes (a number, or `auto`) sharing its port, each a ring member
   * on its own port; resolves once every worker's ring holds all of them.
   */
  static async ipubsubWorkers(workers, root = REPO_ROOT) {
    const count = workers === 'auto' ? availableParallelism() : workers;
    // base + i for each worker's HTTP; with the gossip port at base + count + 1, base + count + 1 + i for its gossip.
    const base = await freePortRange(2 * count + 2);
    const server = await ServerUnderTest.ipubsub(
      {
        IPUBSUB_NODE_WORKERS: String(workers),
        IPUBSUB_CLUSTER_GOSSIP_PORT: String(base + count + 1),
        IPUBSUB_STORE_ALLOWNODELOCALINCLUSTER: 'true',
      },
      root,
      base,
    );
    if (count === 1) return server;
    for (let i = 1; i <= count; i++) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const view = await fetch(`http://127.0.0.1:${base + i}/api/v1/cluster`)
          .then((res) => res.json())
          .catch(() => undefined);
        if (view?.ring.length === count) break;
        if (Date.now() > deadline) throw new Error(`worker ${i} of ${count} not in a full ring:\n${server.output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return server;
  }

  /** The bare node:http floor (bench/floor-server.mjs). */
  static floor() {
    return ServerUnderTest.script('floor', 'bench/floor-server.mjs');
  }

  /** A reference server from bench/ that takes its port as its argument and answers /ready. */
  static async script(name, file) {
    const port = await freePort();
    const child = spawn(process.execPath, [join(REPO_ROOT, file), String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new ServerUnderTest(name, child, port, () => {});
    await server.waitReady();
    return server;
  }

  /** Receivers parked right now, as the server itself counts them. */
  async waiterCount() {
    if (this.name === 'floor') return (await (await fetch(`${this.url}/ready`)).json()).waiters;
    return this.metric('ipubsub_waiting_clients');
  }

  /** A gauge or counter from iPubSub's /metrics. */
  async metric(name) {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    if (match === null) throw new Error(`${name} missing from /metrics`);
    return Number(match[1]);
  }

  /** How many more files (sockets) the process may open before its limit. */
  freeFileDescriptors() {
    const limits = readFileSync(`/proc/${this.child.pid}/limits`, 'utf8');
    const soft = Number(/Max open files\s+(\d+)/.exec(limits)[1]);
    return soft - readdirSync(`/proc/${this.child.pid}/fd`).length;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async waitReady(timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null)
        throw new Error(`${this.name} exited (${this.child.exitCode}):\n${this.output}`);
      try {
        if ((await fetch(`${this.url}/ready`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${this.name} not ready after ${timeoutMs} ms:\n${this.output}`);
  }

  /** Resident set size in bytes, from /proc (what the kernel holds for the process, heap garbage included). */
  rssBytes() {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
  }

  /** CPU seconds (user + system) used so far, by the process and its children (the workers of node.workers). */
  cpuSeconds() {
    const pid = this.child.pid;
    let children = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      // gone
    }
    return children.reduce((sum, child) => sum + (cpuSecondsOf(child) ?? 0), cpuSecondsOf(pid) ?? 0);
  }

  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      const force = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(force);
    }
    this.cleanup();
  }
}

/** Runs `body(server)` against a fresh server and always stops it afterwards. */
export async function withServer(start, body) {
  const server = await start();
  try {
    return await body(server);
  } finally {
    await server.stop();
  }
}
