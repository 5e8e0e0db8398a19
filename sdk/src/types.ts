import type { IPubSubError } from './errors.js';
import type { ReceiveQuery, ReceivedMessage, SendRequest } from './wire-types.generated.js';

/** Retries of network errors, 408, 429 and 5xx answers: exponential backoff with full jitter. */
export interface RetryOptions {
  /** Retries after the first attempt of `send` and `receive`; `subscribe` retries until stopped. @default 5 */
  limit?: number;
  /** Retry n waits a random time up to `min(maxDelayMs, baseDelayMs * 2 ** n)`. @default 200 */
  baseDelayMs?: number;
  /** Longest backoff between two attempts (a server's `Retry-After` is honoured as given). @default 5000 */
  maxDelayMs?: number;
  /**
   * Called before each retry's wait with the failure, the retry's number (1 for the first) and the wait:
   * the only sign of a subscription retrying a failing server, which it does until stopped.
   */
  onRetry?: (error: IPubSubError, retry: number, delayMs: number) => void;
}

export interface ClientOptions {
  /** Where the iPubSub server (or a proxy in front of it) answers, e.g. `http://127.0.0.1:8801`. */
  baseUrl: string;
  /** Sent with every request. */
  headers?: Record<string, string>;
  /**
   * Bearer token for a server with `auth.mode: jwt`: the token, or a function called before every request
   * (cache the token in it). After a 401 the function is called once more with `{ refresh: true }` (fetch a new
   * token then) and the request is tried again once; a second 401 rejects with UnauthorizedError, a stream
   * outside the token's scopes with ForbiddenError, and either ends a subscription.
   */
  token?: TokenSource;
  /** Replaces the global `fetch` (tests, proxies, instrumentation). */
  fetch?: typeof fetch;
  retry?: RetryOptions;
  /**
   * The client's deadline for an answer: a send, or a read that does not wait, rejects with TimeoutError after
   * this long (retries included); a long poll and a blocking send get their own wait on top. A subscription
   * retries a poll that timed out. @default 10000
   */
  requestTimeoutMs?: number;
  /**
   * `direct`: learn the cluster's ring from `baseUrl` and send each request straight to its stream's owner (at
   * the members' advertised URLs, which the client must be able to reach); `any`: send everything to `baseUrl`,
   * whose node forwards what it does not own (for a proxy or load balancer in front of the cluster). A single
   * node, or a server without the ring, is the same either way. @default 'direct'
   */
  routing?: 'direct' | 'any';
}

/** A bearer token, or a function that returns one (`refresh`: the server refused the last one). */
export type TokenSource = string | ((request: { refresh: boolean }) => string | Promise<string>);

export interface RequestOptions {
  /** Aborts the request, and any wait between retries, at once. */
  signal?: AbortSignal;
}

/** Options of a send, named as on the wire; `messageUuid` defaults to a random UUID. */
export type SendOptions = Omit<SendRequest, 'streamId' | 'message' | 'messageUuid'> &
  Partial<Pick<SendRequest, 'messageUuid'>> &
  RequestOptions;

/** Options of one long poll, named as on the wire. */
export type ReceiveOptions = Omit<ReceiveQuery, 'streamId'> & RequestOptions;

export interface SubscribeOptions extends RequestOptions {
  /** Read the message store (replay, every subscriber sees every message) instead of taking from memory. */
  fromStore?: ReceiveQuery['readFromDB'];
  /** Continue after this position (a `resumeToken` persisted earlier); implies `fromStore`. */
  resumeToken?: ReceiveQuery['dbResumeToken'];
  /** Length of each long poll; the server's default when absent. */
  timeoutSeconds?: ReceiveQuery['timeoutSeconds'];
  /**
   * A stored subscription follows the server's live tail (one Server-Sent Events stream, `fetch` streaming)
   * rather than a request per message, and long-polls when the tail cannot be had (an older server, a proxy that
   * buffers). `false`: always long-poll. @default true
   */
  eventStream?: boolean;
}

/** A message delivered by a subscription. */
export interface SubscriptionMessage<T = unknown> extends ReceivedMessage<T> {
  /** Pass as `resumeToken` to continue right after this message; undefined when not reading the store. */
  resumeToken: string | undefined;
}
