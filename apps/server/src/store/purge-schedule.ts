import { setImmediate as nextTurn } from 'node:timers/promises';
import type { MessageStore } from './message-store.js';

/**
 * Deletes expired messages in the background: every interval, batches of `batchSize` until a batch comes back
 * short. Small batches keep each delete's locks and fsync short, so live sends barely notice.
 */
export class PurgeSchedule {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly store: MessageStore,
    private readonly intervalMs: number,
    private readonly batchSize: number,
    private readonly report: { purged(count: number): void; failed(err: unknown): void },
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.runOnce(), this.intervalMs);
    this.timer.unref();
  }

  /** One purge pass, unless one is still running. */
  runOnce(): Promise<void> {
    this.running ??= this.purge().finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async purge(): Promise<void> {
    try {
      for (;;) {
        const deleted = await this.store.purgeExpired(Date.now(), this.batchSize);
        if (deleted > 0) this.report.purged(deleted);
        if (deleted < this.batchSize || this.stopped) return;
        await nextTurn(); // let requests in between two batches
      }
    } catch (err) {
      this.report.failed(err);
    }
  }
}
