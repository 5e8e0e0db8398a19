import { Deadline, type Scope } from './deadline.js';
import { NetworkError, ProtocolError, errorFor, isIPubSubError, type IPubSubError } from './errors.js';
import { backoffDelay, isRetryableStatus, retryAfterMs, sleep, type RetrySettings } from './retry.js';
import { withToken } from './token.js';
import type { TokenSource } from './types.js';
import type { Router } from './routing.js';

/** What every API call needs: where to send it, headers, fetch, retry settings and the client's state. */
export interface Transport {
  readonly router: Router;
  readonly headers: Record<string, string>;
  /** Bearer token of every request, asked for again (`refresh`) after a 401. */
  readonly token: TokenSource | undefined;
  readonly fetch: typeof fetch;
  readonly retry: RetrySettings;
  /** The client's: its `close()` ends every call in flight. */
  readonly scope: Scope;
  /** Calls in flight, so that `close()` can wait for them to end. */
  readonly pending: Set<Promise<unknown>>;
}

export interface CallOptions {
  /** The stream the call is about: its owner serves it. */
  readonly streamId: string;
  /** The caller's signal: aborting it ends the call with its reason. */
  readonly signal: AbortSignal | undefined;
  /** Retries after the first attempt of network failures, timeouts and retryable answers. */
  readonly retries: number;
  /** Resolve null for a 424 (a long poll that found nothing) instead of rejecting. */
  readonly noneOn424: boolean;
  /**
   * The client's deadline: for the whole call, retries included (`send`, `receive`), or for each attempt
   * (`subscribe`, whose poll that times out is retried like a network failure).
   */
  readonly timeoutMs: number;
  readonly timeoutPer: 'call' | 'attempt';
}

/** One API call, tracked so that `close()` can wait for it; see `attempts`. */
export function call(transport: Transport, path: string, init: RequestInit, options: CallOptions): Promise<unknown> {
  const settled = attempts(transport, path, init, options);
  const tracked = settled.catch(() => undefined);
  transport.pending.add(tracked);
  void tracked.then(() => transport.pending.delete(tracked));
  return settled;
}

/**
 * Retried on network errors, timeouts of an attempt and retryable answers up to `retries` times. Resolves with
 * the parsed body, or with null for a 424 when `noneOn424`; rejects with a typed error, or with the reason of the
 * signal or of the client's close once either aborts.
 */
async function attempts(transport: Transport, path: string, init: RequestInit, options: CallOptions): Promise<unknown> {
  const { fetch: send, retry, router } = transport; // called unbound: a browser's fetch rejects any other `this`
  const what = `${init.method ?? 'GET'} ${path.split('?')[0]}`;
  const perCall = options.timeoutPer === 'call';
  const whole = new Deadline([options.signal], transport.scope, perCall ? options.timeoutMs : undefined, what);
  const { token } = transport;
  /** A 401 asked the token function for a new token: the next 401 is final. */
  let refreshed = false;
  try {
    for (let attempt = 0; ; attempt++) {
      whole.signal.throwIfAborted();
      // Outside the attempt's try: a token function that fails ends the call with its own error, unretried.
      const headers = token === undefined ? init.headers : await withToken(init.headers, token, refreshed);
      const deadline = perCall ? whole : new Deadline([whole.signal], transport.scope, options.timeoutMs, what);
      const url = router.urlFor(options.streamId);
      let failure: IPubSubError;
      let delay: number | undefined;
      try {
        const response = await send(url + path, { ...init, headers, signal: deadline.signal });
        router.observe(url, response);
        if (response.ok) return await parse(response);
        // Whatever the error body holds; errorFor falls back to the status for a missing field.
        const body = (await response.json().catch(() => ({}))) as Parameters<typeof errorFor>[1];
        if (options.noneOn424 && response.status === 424) return null;
        if (response.status === 401 && typeof token === 'function' && !refreshed) {
          // The token expired or was revoked: one more try, at once, with the one the function gives now.
          refreshed = true;
          attempt--;
          continue;
        }
        failure = errorFor(response.status, body);
        if (!isRetryableStatus(response.status)) throw failure;
        delay = retryAfterMs(response.headers.get('retry-after'));
      } catch (error) {
        if (whole.signal.aborted) throw whole.signal.reason;
        if (deadline.signal.aborted) failure = deadline.signal.reason as IPubSubError;
        // fetch reports network failures (refused, reset, cut off mid-body) as TypeError; anything else is a bug.
        else if (isIPubSubError(error) || !(error instanceof TypeError)) throw error;
        else failure = new NetworkError(error.message, 0, 'NETWORK_ERROR', { cause: error });
        // Network failures and timeouts only (answers were thrown above): the next attempt goes another way.
        router.unreachable(url);
      } finally {
        if (!perCall) deadline.release();
      }
      const wait = delay ?? backoffDelay(attempt, retry);
      // Out of retries, or out of time before the next attempt could start: the last failure says more than a timeout.
      if (attempt >= options.retries || Date.now() + wait >= whole.endsAt) throw failure;
      retry.onRetry?.(failure, attempt + 1, wait);
      await sleep(wait, whole.signal);
    }
  } finally {
    whole.release();
  }
}

/** A 2xx answer's JSON body; anything else (a proxy's HTML page) is a ProtocolError naming what came. */
async function parse(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const type = response.headers.get('content-type') ?? 'no content type';
    throw new ProtocolError(
      `the server answered ${response.status} with a body that is not JSON (${type})`,
      response.status,
      'PROTOCOL_ERROR',
      { cause: error },
    );
  }
}
