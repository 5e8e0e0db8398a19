import { Deadline, type Scope } from './deadline.js';
import type { ReceivedMessage, ReceiveQuery } from './wire-types.generated.js';
import type { SubscribeOptions, SubscriptionMessage } from './types.js';

/** One long poll of the subscribed stream: a message, or null when none came in time. */
export type Poll<T> = (
  query: Omit<ReceiveQuery, 'streamId'>,
  signal: AbortSignal,
) => Promise<ReceivedMessage<T> | null>;

const DONE = { done: true, value: undefined } as const;

/**
 * The messages of a stream, for `for await`: long polls back to back, polls again after a 424, retries
 * failures with backoff and keeps the resume token. One reader; `break`, `return()`, the signal or the client's
 * `close()` end it at once, aborting the request in flight.
 */
export class Subscription<T = unknown>
  implements AsyncIterable<SubscriptionMessage<T>>, AsyncIterator<SubscriptionMessage<T>, undefined>
{
  /** Position after the last message delivered (or the token given); persist it to resume later. */
  resumeToken: string | undefined;
  private readonly stopper = new AbortController();
  /** Aborts when the caller's signal, the client's `close()` or `return()` does. */
  private readonly ended: Deadline;
  private readonly readFromDB: boolean;
  private readonly poll: Poll<T>;
  private readonly options: SubscribeOptions;
  private reading = false;
  private previous: Promise<unknown> = Promise.resolve();

  /** `scope`: the client's, whose `close()` ends this subscription too. */
  constructor({ poll, options, scope }: { poll: Poll<T>; options: SubscribeOptions; scope: Scope }) {
    this.poll = poll;
    this.options = options;
    this.resumeToken = options.resumeToken;
    this.readFromDB = options.fromStore ?? options.resumeToken !== undefined;
    this.ended = new Deadline([options.signal, this.stopper.signal], scope, undefined, 'subscribe');
  }

  [Symbol.asyncIterator](): this {
    if (this.reading) throw new Error('a subscription has one reader');
    this.reading = true;
    return this;
  }

  next(): Promise<IteratorResult<SubscriptionMessage<T>, undefined>> {
    // Calls are served in turn, so two pending calls never poll with the same token.
    const result = this.previous.then(() => this.read());
    this.previous = result.catch(() => undefined);
    return result;
  }

  /** Ends the subscription at once; called by `break`. */
  async return(): Promise<IteratorReturnResult<undefined>> {
    this.stopper.abort();
    this.ended.release();
    return DONE;
  }

  private async read(): Promise<IteratorResult<SubscriptionMessage<T>, undefined>> {
    let delivered = false;
    try {
      while (!this.ended.signal.aborted) {
        const message = (await this.poll(
          { timeoutSeconds: this.options.timeoutSeconds, readFromDB: this.readFromDB, dbResumeToken: this.resumeToken },
          this.ended.signal,
        )) as SubscriptionMessage<T> | null;
        if (message !== null) {
          delivered = true;
          message.resumeToken = this.resumeToken = message.dbResumeToken ?? this.resumeToken;
          return { done: false, value: message };
        }
      }
    } catch (error) {
      // Stopping through the signal or return() ends the loop; it is not a failure.
      if (!this.ended.signal.aborted) throw error;
    } finally {
      // Ended for good (stopped or failed): release the caller's signal and anything still in flight.
      if (!delivered) {
        this.stopper.abort();
        this.ended.release();
      }
    }
    return DONE;
  }
}
