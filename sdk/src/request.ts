import { NetworkError, errorFor, isIPubSubError, type IPubSubError } from './errors.js';
import { backoffDelay, isRetryableStatus, retryAfterMs, sleep, type RetrySettings } from './retry.js';

/** What every API call needs: the streams API's base URL, headers, fetch and retry settings. */
export interface Transport {
  url: string;
  headers: Record<string, string>;
  fetch: typeof fetch;
  retry: RetrySettings;
}

/**
 * One API call, retried on network errors and retryable answers up to `retries` times.
 * Resolves with the parsed body, with null for a 424 when `noneOn424` (a long poll that found nothing),
 * and rejects with a typed error, or with the signal's reason once it aborts.
 */
export async function call<R>(
  transport: Transport,
  path: string,
  init: RequestInit,
  signal: AbortSignal | undefined,
  retries: number,
  noneOn424: boolean,
): Promise<R | null> {
  const { fetch: send, retry } = transport; // called unbound: a browser's fetch rejects any other `this`
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    let failure: IPubSubError;
    let delay: number | undefined;
    try {
      const response = await send(transport.url + path, { ...init, signal });
      if (response.ok) return (await response.json()) as R;
      const body = await response.json().catch(() => ({}));
      if (noneOn424 && response.status === 424) return null;
      failure = errorFor(response.status, body);
      if (!isRetryableStatus(response.status)) throw failure;
      delay = retryAfterMs(response.headers.get('retry-after'));
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      // fetch reports network failures (refused, reset, cut off mid-body) as TypeError; anything else is a bug.
      if (isIPubSubError(error) || !(error instanceof TypeError)) throw error;
      failure = new NetworkError(error.message, 0, 'NETWORK_ERROR', { cause: error });
    }
    if (attempt >= retries) throw failure;
    const wait = delay ?? backoffDelay(attempt, retry);
    retry.onRetry?.(failure, attempt + 1, wait);
    await sleep(wait, signal);
  }
}
