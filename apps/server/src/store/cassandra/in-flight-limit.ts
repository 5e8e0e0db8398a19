/**
 * Bounds the requests one store has in flight. A wide batch or a crowd of woken readers would otherwise hand
 * the driver more requests than its connections take (it then fails them as busy rather than queueing).
 */
export class InFlightLimit {
  private running = 0;
  private readonly queue: Array<() => void> = [];
  private drained: (() => void) | null = null;

  constructor(private readonly limit: number) {}

  async run<T>(request: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.running++;
    try {
      return await request();
    } finally {
      // The slot passes straight to the next waiter, so `running` never dips below the limit while some wait.
      const next = this.queue.shift();
      if (next !== undefined) next();
      else if (--this.running === 0) this.drained?.();
    }
  }

  /** Resolves once nothing is in flight. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.drained;
      this.drained = () => {
        this.drained = null;
        previous?.();
        resolve();
      };
    });
  }
}
