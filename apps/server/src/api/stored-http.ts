import { performance } from 'node:perf_hooks';
import { Logger } from '@nestjs/common';
import { DEFAULTS, type ErrorCode, type ReceiveQuery, type SendRequest } from '@ipubsub/sdk/wire';
import type { StreamReply } from './exchange.js';
import { DomainError } from '../domain-error.js';
import type { Metrics } from '../observability/index.js';
import type { StoredMessage, StoredRead, StoredStreams } from '../store/index.js';
import { sendError, STREAM_MOVED } from './errors.js';
import { isoTimestamp } from './iso-time.js';

/**
 * What becomes of a stored long poll whose stream moved to another node while it waited. `startedAt`
 * (`performance.now()`) is when this node began serving it, so a handler knows the time it has left.
 */
export type MovedReadHandler = (streamId: string, reply: StreamReply, startedAt: number) => Promise<void>;

/** Without a cluster to send it on: 424, and the client's next poll reaches the new owner. */
export const answerMoved: MovedReadHandler = async (_streamId, reply) => {
  void sendError(reply, 'NO_MESSAGE', STREAM_MOVED);
};

/**
 * The HTTP side of stored streams: `writeToDB` sends and `readFromDB` receives, answered as docs/contract.md §2–3 says.
 * The controller validates the request and hands it here.
 */
export class StoredStreamsHttp {
  private readonly logger = new Logger('store');
  private failing = false;

  constructor(
    private readonly stored: StoredStreams,
    private readonly metrics: Metrics,
    /** In a cluster, sends such a poll on to the stream's new owner (ClusterForwarding.rerouteMoved). */
    private readonly movedReads: MovedReadHandler,
  ) {}

  async send(body: SendRequest, reply: StreamReply): Promise<void> {
    const receivedAt = Date.now();
    let result;
    try {
      result = await this.stored.send(
        body.streamId,
        body.messageUuid,
        body.message,
        body.dbTTLSeconds ?? DEFAULTS.dbTTLSeconds,
        receivedAt,
      );
    } catch (err) {
      this.metrics.sendOutcome.rejected.inc();
      return this.unavailable(reply, err);
    }
    this.recovered();
    this.metrics.sendOutcome[result.duplicate ? 'duplicate' : 'accepted'].inc();
    reply.code(200).send({
      messageUuid: body.messageUuid,
      timestamp: isoTimestamp(result.timestamp),
      duplicate: result.duplicate ? true : undefined,
    });
  }

  async receive(
    query: ReceiveQuery,
    timeoutSeconds: number,
    reply: StreamReply,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const startedAt = performance.now();
    let outcome;
    try {
      outcome = await this.stored.read(
        query.streamId,
        query.dbResumeToken,
        query.maxMessages ?? 1,
        timeoutSeconds * 1000,
        signal,
      );
    } catch (err) {
      this.metrics.receiveOutcome.rejected.inc();
      return this.unavailable(reply, err);
    }
    this.recovered();
    if (typeof outcome === 'object') {
      this.metrics.receiveOutcome.delivered.inc();
      const payload = query.maxMessages === undefined ? singleJson(outcome) : batchJson(outcome);
      reply.code(200).type('application/json; charset=utf-8').send(payload);
      return;
    }
    switch (outcome) {
      case 'timeout':
        this.metrics.receiveOutcome.timeout.inc();
        return this.fail(reply, 'NO_MESSAGE', `no message within ${timeoutSeconds} s`);
      case 'shutting_down':
        this.metrics.receiveOutcome.timeout.inc();
        return this.fail(reply, 'NO_MESSAGE', 'node is shutting down; poll again');
      case 'moved':
        await this.movedReads(query.streamId, reply, startedAt);
        return;
      case 'aborted':
        return;
      case 'invalid_token':
        this.metrics.receiveOutcome.rejected.inc();
        return this.fail(
          reply,
          'INVALID_RESUME_TOKEN',
          'dbResumeToken is malformed, tampered with, or belongs to another stream',
        );
      case 'too_many_waiters':
        this.metrics.receiveOutcome.rejected.inc();
        return this.fail(reply, 'TOO_MANY_WAITERS', 'too many receivers waiting');
    }
  }

  private unavailable(reply: StreamReply, err: unknown): void {
    if (!this.failing) {
      // Logged once per outage, not once per request.
      this.failing = true;
      this.logger.error(`message store failing: ${(err as Error)?.message ?? String(err)}`);
    }
    // The database's own words stay in the log; the client learns only that the store failed (or is overloaded).
    const error = err instanceof DomainError ? err.message : 'message store unavailable; retry later';
    this.fail(reply, 'STORE_UNAVAILABLE', error);
  }

  private recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.logger.log('message store answering again');
  }

  private fail(reply: StreamReply, code: ErrorCode, error: string): void {
    void sendError(reply, code, error);
  }
}

/**
 * A stored message's fields as JSON object members (no braces): `messageUuid`, `message`, `timestamp`. The wire
 * shapes ReceivedMessage, ReceivedBatch and the live tail's StreamEvent are written from it by hand because each
 * body is already JSON text in the store: splicing it in spares a parse and a stringify per message on replay.
 */
export function storedMessageFields(message: StoredMessage): string {
  return `"messageUuid":${JSON.stringify(message.messageUuid)},"message":${message.messageJson},"timestamp":"${isoTimestamp(message.timestamp)}"`;
}

function tail(read: StoredRead): string {
  return `,"dbResumeToken":"${read.token}"${read.gap ? ',"gap":{"reason":"expired"}' : ''}}`;
}

function singleJson(read: StoredRead): string {
  return '{' + storedMessageFields(read.messages[0]) + tail(read);
}

function batchJson(read: StoredRead): string {
  let json = '{"messages":[';
  for (let i = 0; i < read.messages.length; i++)
    json += (i === 0 ? '{' : ',{') + storedMessageFields(read.messages[i]) + '}';
  return json + ']' + tail(read);
}
