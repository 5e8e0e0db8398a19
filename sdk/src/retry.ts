import type { RetryOptions } from './types.js';

/** Retry settings with their defaults filled in; `onRetry` stays optional. */
export type RetrySettings = Required<Omit<RetryOptions, 'onRetry'>> & Pick<RetryOptions, 'onRetry'>;

export const RETRY_DEFAULTS: RetrySettings = { limit: 5, baseDelayMs: 200, maxDelayMs: 5000 };

/** Answers worth another attempt: request timeout, over a limit, and server or gateway failures. */
export const isRetryableStatus = (status: number): boolean => status >= 500 || status === 429 || status === 408;

/** Full jitter: uniform in [0, min(cap, base·2^attempt)], so clients retrying together spread out. */
export function backoffDelay(attempt: number, retry: RetrySettings, random = Math.random): number {
  return random() * Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** attempt);
}

const LONGEST_TIMER_MS = 2 ** 31 - 1;

/** `Retry-After` (delta-seconds or an HTTP date) in milliseconds; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isNaN(seconds) ? Date.parse(header) - now : seconds * 1000;
  // Capped at the longest timer there is: a longer one fires at once.
  return Number.isNaN(ms) ? undefined : Math.min(Math.max(0, ms), LONGEST_TIMER_MS);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const abort = (): void => {
      clearTimeout(timer);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the caller's own abort reason, passed on as fetch does
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', abort, { once: true });
  });
}
