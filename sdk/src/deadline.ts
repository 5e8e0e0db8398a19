import { TimeoutError } from './errors.js';

/**
 * One signal that aborts when any of its sources aborts (with that source's reason) or when `ms` pass (with a
 * TimeoutError). Listeners are added by hand and removed by `release()`, rather than with `AbortSignal.any`, so a
 * long-lived source (the client's) holds nothing of a call once it has settled.
 */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout> | undefined;
  /** When the time runs out (`Date.now()` clock); Infinity without a timeout. */
  readonly endsAt: number;

  constructor(
    private readonly sources: readonly (AbortSignal | undefined)[],
    ms: number | undefined,
    what: string,
  ) {
    for (const source of sources) {
      if (source?.aborted) this.controller.abort(source.reason);
      else source?.addEventListener('abort', this.follow);
    }
    this.endsAt = ms === undefined ? Infinity : Date.now() + ms;
    if (ms !== undefined && !this.controller.signal.aborted)
      this.timer = setTimeout(
        () => this.controller.abort(new TimeoutError(`${what}: no answer within ${ms} ms`, 0, 'TIMEOUT')),
        ms,
      );
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Let go of the sources and the timer: the call has settled. */
  release(): void {
    clearTimeout(this.timer);
    for (const source of this.sources) source?.removeEventListener('abort', this.follow);
  }

  private readonly follow = (event: Event): void => {
    this.controller.abort((event.target as AbortSignal).reason);
  };
}
