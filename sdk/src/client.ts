import { newMessageUuid } from './message-uuid.js';
import { call, type Transport } from './request.js';
import { RETRY_DEFAULTS } from './retry.js';
import { Subscription } from './subscription.js';
import type { ClientOptions, ReceiveOptions, SendOptions, SubscribeOptions } from './types.js';
import type { ReceivedBatch, ReceivedMessage, ReceiveQuery, SendResponse } from './wire-types.generated.js';

/** A client of one iPubSub server (any node of a cluster). */
export class IPubSub {
  private readonly transport: Transport;

  constructor(options: ClientOptions) {
    this.transport = {
      url: `${options.baseUrl.replace(/\/+$/, '')}/api/v1/streams/`,
      headers: options.headers ?? {},
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      retry: { ...RETRY_DEFAULTS, ...options.retry },
    };
  }

  /**
   * Sends one message. Resolves when the server has it (stored durably with `writeToDB`); rejects with
   * SendTimeoutError when a blocking or sync-match send times out. Retries reuse the same `messageUuid`,
   * so the server drops a repeat.
   */
  send<T>(streamId: string, message: T, options: SendOptions = {}): Promise<SendResponse> {
    const { signal, messageUuid = newMessageUuid(), ...settings } = options;
    const { transport } = this;
    return call<SendResponse>(
      transport,
      'send',
      {
        method: 'POST',
        headers: { ...transport.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ ...settings, streamId, messageUuid, message }),
      },
      signal,
      transport.retry.limit,
      false,
    ) as Promise<SendResponse>;
  }

  /** One long poll: the oldest message (a batch with `maxMessages`), or null when none came in time. */
  receive<T = unknown>(
    streamId: string,
    options: ReceiveOptions & { maxMessages: number },
  ): Promise<ReceivedBatch<T> | null>;
  receive<T = unknown>(streamId: string, options?: ReceiveOptions): Promise<ReceivedMessage<T> | null>;
  receive<T>(streamId: string, options: ReceiveOptions = {}): Promise<ReceivedMessage<T> | ReceivedBatch<T> | null> {
    const { signal, ...query } = options;
    return this.get(streamId, query, signal, this.transport.retry.limit);
  }

  /**
   * The stream's messages as an async iterable: `for await (const msg of client.subscribe(id)) …`.
   * Failures that a retry can cure are retried until the subscription ends.
   */
  subscribe<T = unknown>(streamId: string, options: SubscribeOptions = {}): Subscription<T> {
    // Polls answered at once would follow one another without pause, a load on the server and nothing gained.
    if (options.timeoutSeconds === 0)
      throw new RangeError('subscribe long-polls: timeoutSeconds must be at least 1 (receive() reads without waiting)');
    return new Subscription<T>((query, signal) => this.get(streamId, query, signal, Infinity), options);
  }

  private get<R>(
    streamId: string,
    query: Omit<ReceiveQuery, 'streamId'>,
    signal: AbortSignal | undefined,
    retries: number,
  ) {
    const params = new URLSearchParams({ streamId });
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    return call<R>(this.transport, `receive?${params}`, { headers: this.transport.headers }, signal, retries, true);
  }
}
