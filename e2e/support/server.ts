import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpsRequest } from './tls.js';
import { freePort } from './ports.mjs';

export { freePort };

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const SERVER_MAIN = join(REPO_ROOT, 'apps/server/dist/main.js');
/** The `ipubsub` command-line tool (the server package's bin). */
export const CLI_MAIN = join(REPO_ROOT, 'apps/server/dist/cli/main.js');

export interface StartOptions {
  /** Config file relative to the repo root; none: defaults plus env. */
  config?: string;
  /** Extra IPUBSUB_* variables (override config keys). */
  env?: Record<string, string>;
  /** Port to listen on; default: a free one. */
  port?: number;
  /** Wait for /ready as well as /health. */
  waitReady?: boolean;
  /** How long to wait for that (ms); default 60 s (a loaded machine starts a node slowly). */
  startTimeoutMs?: number;
  /** The node serves HTTPS (http.tls.* in `env`) with a certificate this CA (PEM) signed. */
  ca?: string;
}

/** A real iPubSub node running as a child process of the test. */
export class ServerProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly url: string,
    readonly env: Record<string, string>,
    private output: string[],
    /** The CA (PEM) of an HTTPS node's certificate. */
    readonly ca?: string,
  ) {}

  static async start(options: StartOptions = {}): Promise<ServerProcess> {
    const port = options.port ?? (await freePort());
    const env: Record<string, string> = {
      IPUBSUB_HTTP_PORT: String(port),
      IPUBSUB_HTTP_HOST: '127.0.0.1',
      IPUBSUB_LOG_LEVEL: 'warn',
      IPUBSUB_STORE_PATH: mkdtempSync(join(tmpdir(), 'ipubsub-e2e-')),
      ...options.env,
    };
    const args = [SERVER_MAIN];
    if (options.config !== undefined) args.push('--config', join(REPO_ROOT, options.config));
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const collect = (chunk: Buffer): void => {
      output.push(chunk.toString());
      if (output.length > 500) output.splice(0, output.length - 500);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const url = `${options.ca === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;
    const server = new ServerProcess(child, port, url, env, output, options.ca);
    try {
      await server.waitUntil(options.waitReady === false ? '/health' : '/ready', options.startTimeoutMs ?? 60_000);
    } catch (err) {
      child.kill('SIGKILL'); // not left running when its start failed: no caller holds it to stop it
      throw err;
    }
    return server;
  }

  /** What the process printed so far (for failure messages). */
  get log(): string {
    return this.output.join('');
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  async waitUntil(path: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`server exited (${this.child.exitCode ?? this.child.signalCode}):\n${this.log}`);
      try {
        const status =
          this.ca === undefined
            ? (await fetch(this.url + path)).status
            : (await httpsRequest(this.url + path, { ca: this.ca })).status;
        if (status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`server at ${this.url} not answering ${path} after ${timeoutMs} ms:\n${this.log}`);
  }

  /** Sends a signal and waits for the exit; resolves with the exit code (null if killed by signal). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    if (this.exited) return this.child.exitCode;
    const exit = once(this.child, 'exit');
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await exit;
    clearTimeout(timer);
    return this.child.exitCode;
  }

  /** POST /api/v1/streams/send with a JSON body. */
  send(body: unknown, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.url}/api/v1/streams/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      ...init,
    });
  }

  /** GET /api/v1/streams/receive with the given query. */
  receive(query: Record<string, string | number | boolean>, init: RequestInit = {}): Promise<Response> {
    const params = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
    return fetch(`${this.url}/api/v1/streams/receive?${params}`, init);
  }
}
