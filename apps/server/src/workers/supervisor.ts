import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { NodeLifecycle } from '../lifecycle/index.js';
import { socketsFit, WORKER_INDEX_ENV, WORKER_SOCKETS_ENV } from './worker-config.js';

/** A worker that crashed within this long of starting counts as crashing in a loop: its restart waits longer. */
const STABLE_AFTER_MS = 10_000;
const FIRST_RESTART_DELAY_MS = 500;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * The primary process of `node.workers: n`: forks workers 1…n (each a ring member serving the shared public
 * port, see `workerConfig`), restarts one that exits unasked (sooner the longer it had run), and on SIGTERM or
 * SIGINT drains them one at a time, so that each hands its streams to workers still running, then exits.
 */
export class WorkerSupervisor {
  private readonly workers = new Map<number, Worker>();
  private readonly restartDelays = new Map<number, number>();
  /** The primary's own: ready once the workers are forked, draining from the first signal. */
  private readonly lifecycle = new NodeLifecycle();
  /** The workers' channel sockets, in a directory only this user may enter; removed when the primary exits. */
  private readonly sockets: string | undefined;

  constructor(
    private readonly count: number,
    private readonly logger: Logger,
    /** The workers serve HTTPS: SIGHUP (certificate rotation) is passed on to each, which re-reads its files. */
    private readonly relayReload = false,
  ) {
    const directory = mkdtempSync(join(tmpdir(), 'ipubsub-workers-'));
    process.once('exit', () => rmSync(directory, { recursive: true, force: true }));
    if (socketsFit(directory, count)) this.sockets = directory;
    else logger.warn({ directory }, 'temporary directory path too long for Unix sockets: workers forward over HTTP');
  }

  start(): void {
    for (let index = 1; index <= this.count; index++) this.fork(index);
    this.lifecycle.markReady();
    process.once('SIGTERM', (signal) => void this.stop(signal));
    process.once('SIGINT', (signal) => void this.stop(signal));
    if (this.relayReload)
      process.on('SIGHUP', () => {
        for (const worker of this.workers.values()) worker.process.kill('SIGHUP');
      });
  }

  private fork(index: number): void {
    const startedAt = Date.now();
    const env: Record<string, string> = { [WORKER_INDEX_ENV]: String(index) };
    if (this.sockets !== undefined) env[WORKER_SOCKETS_ENV] = this.sockets;
    const worker = cluster.fork(env);
    this.workers.set(index, worker);
    worker.on('exit', (code, signal) => {
      if (this.workers.get(index) === worker) this.workers.delete(index);
      if (this.lifecycle.draining) return;
      const ranMs = Date.now() - startedAt;
      const delay =
        ranMs >= STABLE_AFTER_MS
          ? FIRST_RESTART_DELAY_MS
          : Math.min(MAX_RESTART_DELAY_MS, (this.restartDelays.get(index) ?? FIRST_RESTART_DELAY_MS / 2) * 2);
      this.restartDelays.set(index, delay);
      this.logger.error(
        { worker: index, pid: worker.process.pid, code, signal, restartInMs: delay },
        'worker exited; restarting',
      );
      setTimeout(() => {
        if (!this.lifecycle.draining) this.fork(index);
      }, delay);
    });
  }

  /** One worker after the other: each drains (handing its streams to those still running) before the next stops. */
  private async stop(signal: string): Promise<void> {
    // SIGTERM and then Ctrl-C (or the reverse) stop the workers once.
    if (!this.lifecycle.beginDraining()) return;
    this.logger.info({ signal, workers: this.workers.size }, 'stopping workers one at a time');
    for (let index = 1; index <= this.count; index++) {
      const worker = this.workers.get(index);
      if (worker === undefined || worker.isDead()) continue;
      const exited = once(worker, 'exit');
      worker.process.kill('SIGTERM');
      await exited;
      this.logger.info({ worker: index }, 'worker stopped');
    }
    this.lifecycle.markStopped();
    this.logger.info('stopped');
    process.exit(0);
  }
}
