import { TimeoutError } from './errors.js';

/**
 * What a client's calls and subscriptions live in: `close()` aborts every deadline in `live`. A registry rather than
 * a listener per call on one long-lived signal, which Node warns about past ten (a client has many calls at once).
 */
export interface Scope {
  readonly closed: AbortSignal;
  readonly live: Set<Deadline>;
}

/**
 * One signal that aborts when any of its sources aborts (with that source's reason), when the scope closes, or
 * when `ms` pass (with a TimeoutError). Listeners are added by hand and removed by `release()`, rather than with
 * `AbortSignal.any`, so nothing long-lived holds a call once it has settled.
 */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout> | undefined;
  /** When the time runs out (`Date.now()` clock); Infinity without a timeout. */
  readonly endsAt: number;

  constructor(
    private readonly sources: readonly (AbortSignal | undefined)[],
    private readonly scope: Scope,
    ms: number | undefined,
    what: string,
  ) {
    if (scope.closed.aborted) this.abort(scope.closed.reason);
    else scope.live.add(this);
    for (const source of sources) {
      if (source?.aborted) this.abort(source.reason);
      else source?.addEventListener('abort', this.follow);
    }
    this.endsAt = ms === undefined ? Infinity : Date.now() + ms;
    if (ms !== undefined && !this.signal.aborted)
      this.timer = setTimeout(
        () => this.abort(new TimeoutError(`${what}: no answer within ${ms} ms`, 0, 'TIMEOUT')),
        ms,
      );
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    this.controller.abort(reason);
  }

  /** Let go of the sources, the scope and the timer: the call has settled. */
  release(): void {
    clearTimeout(this.timer);
    this.scope.live.delete(this);
    for (const source of this.sources) source?.removeEventListener('abort', this.follow);
  }

  private readonly follow = (event: Event): void => {
    this.abort((event.target as AbortSignal).reason);
  };
}
