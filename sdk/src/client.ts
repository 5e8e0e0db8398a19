import type { Deadline, Scope } from './deadline.js';
import { DEFAULTS } from './defaults.js';
import { newMessageUuid } from './message-uuid.js';
import { eventStreamPoll, type OpenTail } from './event-stream.js';
import { call, type Transport } from './request.js';
import { RETRY_DEFAULTS } from './retry.js';
import { Router } from './routing.js';
import { Subscription, type Poll } from './subscription.js';
import { withToken } from './token.js';
import type { ClientOptions, ReceiveOptions, SendOptions, SubscribeOptions } from './types.js';
import type { ReceivedBatch, ReceivedMessage, ReceiveQuery, SendResponse } from './wire-types.generated.js';

// `await using` needs these declarations, which TypeScript's lib has only from `esnext.disposable` on: declared here
// too (as @types/node does), so the SDK's types check in projects whose `lib` is older. Types only, no code.
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
    readonly asyncDispose: unique symbol;
  }
  interface Disposable {
    [Symbol.dispose](): void;
  }
  interface AsyncDisposable {
    [Symbol.asyncDispose](): PromiseLike<void>;
  }
}

/** `requestTimeoutMs` when not given: long enough for a stored send on a slow store, short enough to notice a hang. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Why calls end when the client closes: an abort, as when their own signal aborts. */
const closedReason = (): DOMException => new DOMException('the client was closed', 'AbortError');

/**
 * A client of an iPubSub server or cluster: given any node, it sends each request straight to its stream's owner
 * (`routing`). `close()` (or `await using`) ends every call and subscription it has running.
 */
export class IPubSub implements AsyncDisposable {
  private readonly transport: Transport;
  private readonly closer = new AbortController();
  private readonly scope: Scope = { closed: this.closer.signal, live: new Set<Deadline>() };
  private readonly requestTimeoutMs: number;

  constructor(options: ClientOptions) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    if (!(this.requestTimeoutMs > 0))
      throw new RangeError('requestTimeoutMs must be a positive number of milliseconds');
    const headers = options.headers ?? {};
    const fetcher = options.fetch ?? ((input, init) => fetch(input, init));
    this.transport = {
      router: new Router({
        baseUrl: options.baseUrl.replace(/\/+$/, ''),
        routing: options.routing ?? 'direct',
        fetch: fetcher,
        headers,
        token: options.token,
        scope: this.scope,
        timeoutMs: this.requestTimeoutMs,
      }),
      headers,
      token: options.token,
      fetch: fetcher,
      retry: { ...RETRY_DEFAULTS, ...options.retry },
      scope: this.scope,
      pending: new Set(),
    };
  }

  /**
   * Sends one message. Resolves when the server has it (stored durably with `writeToDB`); rejects with
   * SendTimeoutError when a blocking or sync-match send times out, with TimeoutError when no answer comes within
   * `requestTimeoutMs` (plus `blockingSendTimeoutSeconds`). Retries reuse the same `messageUuid`, so the server
   * drops a repeat. `send<Chat>(…)` checks the message against a type.
   */
  send<T>(streamId: string, message: T, options: SendOptions = {}): Promise<SendResponse> {
    const { signal, messageUuid = newMessageUuid(), ...settings } = options;
    const { transport } = this;
    const waitSeconds = settings.blockingSendTimeoutSeconds ?? DEFAULTS.blockingSendTimeoutSeconds;
    return call(
      transport,
      'send',
      {
        method: 'POST',
        headers: { ...transport.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ ...settings, streamId, messageUuid, message }),
      },
      {
        streamId,
        signal,
        retries: transport.retry.limit,
        noneOn424: false,
        timeoutMs: waitSeconds * 1000 + this.requestTimeoutMs,
        timeoutPer: 'call',
      },
    ) as Promise<SendResponse>;
  }

  /** One long poll: the oldest message (a batch with `maxMessages`), or null when none came in time. */
  receive<T = unknown>(
    streamId: string,
    options: ReceiveOptions & { maxMessages: number },
  ): Promise<ReceivedBatch<T> | null>;
  receive<T = unknown>(streamId: string, options?: ReceiveOptions): Promise<ReceivedMessage<T> | null>;
  receive(streamId: string, options: ReceiveOptions = {}): Promise<unknown> {
    const { signal, ...query } = options;
    return this.poll(streamId, query, { signal, retries: this.transport.retry.limit, timeoutPer: 'call' });
  }

  /**
   * The stream's messages as an async iterable: `for await (const msg of client.subscribe(id)) …`.
   * Failures that a retry can cure (a poll that times out included) are retried until the subscription ends.
   */
  subscribe<T = unknown>(streamId: string, options: SubscribeOptions = {}): Subscription<T> {
    // Polls answered at once would follow one another without pause, a load on the server and nothing gained.
    if (options.timeoutSeconds === 0)
      throw new RangeError('subscribe long-polls: timeoutSeconds must be at least 1 (receive() reads without waiting)');
    const longPoll: Poll<T> = (query, signal) =>
      this.poll(streamId, query, {
        signal,
        retries: Infinity,
        timeoutPer: 'attempt',
      }) as Promise<ReceivedMessage<T> | null>;
    const stored = options.fromStore ?? options.resumeToken !== undefined;
    const poll =
      stored && options.eventStream !== false ? eventStreamPoll(this.tailOpener(streamId), longPoll) : longPoll;
    return new Subscription<T>({ poll, options, scope: this.scope });
  }

  /** Opens the live tail (Server-Sent Events) of a stored stream, with the client's headers and token. */
  private tailOpener(streamId: string): OpenTail {
    const { transport } = this;
    return async (resumeToken, signal) => {
      const params = new URLSearchParams({ streamId });
      if (resumeToken !== undefined) params.set('dbResumeToken', resumeToken);
      const headers = { ...transport.headers, accept: 'text/event-stream' };
      const init = {
        headers: transport.token === undefined ? headers : await withToken(headers, transport.token, false),
      };
      return transport.fetch(`${transport.router.urlFor(streamId)}events?${params}`, { ...init, signal });
    };
  }

  /**
   * Ends every call and subscription of this client: calls in flight reject with an AbortError, subscriptions'
   * loops finish; resolves once all have. Later calls reject at once, later subscriptions yield nothing.
   */
  async close(): Promise<void> {
    const reason = closedReason();
    this.closer.abort(reason);
    for (const deadline of this.scope.live) deadline.abort(reason);
    await Promise.all(this.transport.pending);
  }

  /** `await using client = new IPubSub(…)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private poll(
    streamId: string,
    query: Omit<ReceiveQuery, 'streamId'>,
    options: { signal: AbortSignal | undefined; retries: number; timeoutPer: 'call' | 'attempt' },
  ): Promise<unknown> {
    const params = new URLSearchParams({ streamId });
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const waitSeconds = query.timeoutSeconds ?? DEFAULTS.timeoutSeconds;
    return call(
      this.transport,
      `receive?${params}`,
      { headers: this.transport.headers },
      { ...options, streamId, noneOn424: true, timeoutMs: waitSeconds * 1000 + this.requestTimeoutMs },
    );
  }
}
