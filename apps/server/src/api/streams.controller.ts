import { Inject, Injectable } from '@nestjs/common';
import { DEFAULTS, type ReceiveQuery, type ReceivedMessage, type SendRequest } from '@ipubsub/sdk/wire';
import { AUTHENTICATOR, Denial, type Authenticator, type StreamAction } from '../auth/index.js';
import { APP_CONFIG, type AppConfig } from '../config/index.js';
import { NodeLifecycle } from '../lifecycle/index.js';
import { Metrics } from '../observability/index.js';
import {
  PARKED,
  StreamEngine,
  type HangUpSignal,
  type ReceiveOutcome,
  type SendOutcome,
  type StreamMessage,
  type WaitListener,
} from '../streams/index.js';
import { sendDenial, sendError, STREAM_MOVED } from './errors.js';
import type { StreamReply, StreamRequest } from './exchange.js';
import { ClusterForwarding, isForwarded } from './forwarding.js';
import { isoTimestamp } from './iso-time.js';
import { MEMORY_FULL_ERROR, MEMORY_FULL_RETRY_AFTER_SECONDS } from './send-gate.js';
import { serializeBatch, serializeMessage } from './serializers.js';
import { StoredStreamsHttp } from './stored-http.js';

/** Send and receive; `streams.routes.ts` maps them to data-plane routes with their wire schemas. */
@Injectable()
export class StreamsController {
  private readonly limits: AppConfig['limits'];

  constructor(
    @Inject(StreamEngine) private readonly engine: StreamEngine,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(NodeLifecycle) private readonly lifecycle: NodeLifecycle,
    @Inject(ClusterForwarding) private readonly cluster: ClusterForwarding,
    @Inject(StoredStreamsHttp) private readonly stored: StoredStreamsHttp,
    @Inject(AUTHENTICATOR) private readonly auth: Authenticator | null,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.limits = config.limits;
  }

  /**
   * Answers through `reply`. In memory and on a single node the whole request is served without an async
   * function or a promise, so a send, a delivery and a parked long poll cost as little as possible; a blocked
   * send, a stored message and a forwarded request return a promise that settles once answered.
   */
  send(body: SendRequest, req: StreamRequest, reply: StreamReply): void | Promise<void> {
    if (this.auth !== null) {
      const denied = this.authorize(req, 'send', body.streamId);
      if (denied !== undefined) return this.afterAuthorizing(denied, reply, () => this.routeSend(body, req, reply));
    }
    return this.routeSend(body, req, reply);
  }

  receive(query: ReceiveQuery, req: StreamRequest, reply: StreamReply): void | Promise<void> {
    if (this.auth !== null) {
      const denied = this.authorize(req, 'receive', query.streamId);
      if (denied !== undefined) return this.afterAuthorizing(denied, reply, () => this.routeReceive(query, req, reply));
    }
    return this.routeReceive(query, req, reply);
  }

  /**
   * The token's decision: undefined (allowed) at once for a known token. A request forwarded by another member
   * was decided there; the router checks the member's signature over that decision instead.
   */
  private authorize(
    req: StreamRequest,
    action: StreamAction,
    streamId: string,
  ): Denial | undefined | Promise<Denial | undefined> {
    if (this.cluster.active && isForwarded(req)) return undefined;
    return this.auth!.authorize(req.headers.authorization, action, streamId);
  }

  private afterAuthorizing(
    decision: Denial | Promise<Denial | undefined>,
    reply: StreamReply,
    serve: () => void | Promise<void>,
  ): void | Promise<void> {
    if (decision instanceof Denial) return void sendDenial(reply, decision);
    return decision.then((denied) => (denied === undefined ? serve() : void sendDenial(reply, denied)));
  }

  private routeSend(body: SendRequest, req: StreamRequest, reply: StreamReply): void | Promise<void> {
    // In a cluster, a stream's requests (in memory or stored) are served by its owner; others forward them.
    if (this.cluster.active) {
      const routed = this.cluster.route(body.streamId, req, reply);
      if (routed !== 'local')
        return routed === 'answered'
          ? undefined
          : routed.then((r) => (r === 'local' ? this.sendHere(body, reply) : undefined));
    }
    return this.sendHere(body, reply);
  }

  private routeReceive(query: ReceiveQuery, req: StreamRequest, reply: StreamReply): void | Promise<void> {
    if (this.cluster.active) {
      const routed = this.cluster.route(query.streamId, req, reply);
      if (routed !== 'local')
        return routed === 'answered'
          ? undefined
          : routed.then((r) => (r === 'local' ? this.receiveHere(query, reply) : undefined));
    }
    return this.receiveHere(query, reply);
  }

  private sendHere(body: SendRequest, reply: StreamReply): void | Promise<void> {
    if (this.lifecycle.draining) return this.reject(reply, 'SHUTTING_DOWN', 'node is shutting down; retry');
    const capacity = body.inMemoryStreamSize ?? DEFAULTS.inMemoryStreamSize;
    const blockingSeconds = body.blockingSendTimeoutSeconds ?? DEFAULTS.blockingSendTimeoutSeconds;
    if (capacity === 0 && blockingSeconds === 0) {
      return this.reject(
        reply,
        'INVALID_REQUEST',
        'inMemoryStreamSize 0 needs blockingSendTimeoutSeconds > 0 (sync match)',
      );
    }
    if (capacity > this.limits.maxInMemoryStreamSize) {
      return this.reject(
        reply,
        'INVALID_REQUEST',
        `inMemoryStreamSize must be at most ${this.limits.maxInMemoryStreamSize}`,
      );
    }
    if (blockingSeconds > this.limits.maxTimeoutSeconds) {
      return this.reject(
        reply,
        'INVALID_REQUEST',
        `blockingSendTimeoutSeconds must be at most ${this.limits.maxTimeoutSeconds}`,
      );
    }
    const bytes = requestBytes(reply);
    if (body.writeToDB === true) return this.sendStored(body, bytes, reply);

    const message: StreamMessage = {
      messageUuid: body.messageUuid,
      message: body.message,
      timestamp: Date.now(),
      bytes,
    };
    const outcome = this.engine.send(body.streamId, message, {
      capacity,
      blockingTimeoutMs: blockingSeconds * 1000,
      signal: blockingSeconds > 0 ? new ClientHangUp(reply) : undefined,
    });
    if (outcome instanceof Promise)
      return outcome.then((blocked) => this.answerSend(blocked, message, reply, capacity, blockingSeconds));
    this.answerSend(outcome, message, reply, capacity, blockingSeconds);
  }

  /** A stored send counts against the memory budget until its commit has answered. */
  private sendStored(body: SendRequest, bytes: number, reply: StreamReply): void | Promise<void> {
    const budget = this.engine.budget;
    if (!budget.tryAcquire(bytes)) return this.memoryFull(reply);
    return this.stored.send(body, reply).finally(() => budget.release(bytes));
  }

  private memoryFull(reply: StreamReply): void {
    reply.header('retry-after', MEMORY_FULL_RETRY_AFTER_SECONDS);
    this.reject(reply, 'MEMORY_FULL', MEMORY_FULL_ERROR);
  }

  private answerSend(
    outcome: SendOutcome,
    message: StreamMessage,
    reply: StreamReply,
    capacity: number,
    blockingSeconds: number,
  ): void {
    if (typeof outcome === 'object') {
      // A retry gets the original's answer: its timestamp, not the retry's.
      this.metrics.sendOutcome.duplicate.inc();
      reply.code(200).send({
        messageUuid: message.messageUuid,
        timestamp: isoTimestamp(outcome.originalTimestamp),
        duplicate: true,
      });
      return;
    }
    switch (outcome) {
      case 'accepted':
        this.metrics.sendOutcome.accepted.inc();
        reply.code(200).send({ messageUuid: message.messageUuid, timestamp: isoTimestamp(message.timestamp) });
        return;
      case 'timeout':
        this.metrics.sendOutcome.timeout.inc();
        return this.reject(
          reply,
          'SEND_TIMEOUT',
          capacity === 0
            ? `no receiver took the message within ${blockingSeconds} s`
            : `stream stayed full for ${blockingSeconds} s`,
        );
      case 'aborted':
        return; // the client has gone; nothing to answer
      case 'too_many_waiters':
        return this.reject(reply, 'TOO_MANY_WAITERS', 'too many blocked senders or receivers');
      case 'too_many_streams':
        return this.reject(reply, 'TOO_MANY_STREAMS', 'this node holds its maximum number of streams');
      case 'shutting_down':
        return this.reject(reply, 'SHUTTING_DOWN', 'node is shutting down; retry');
      case 'moved':
        return this.reject(reply, 'OWNER_UNAVAILABLE', 'stream moved to another node; retry');
      case 'memory_full':
        return this.memoryFull(reply);
      case 'too_large':
        this.metrics.refusals.too_large.inc();
        return this.reject(
          reply,
          'PAYLOAD_TOO_LARGE',
          `message of ${message.bytes} bytes exceeds the ${this.limits.maxStreamBytes} a stream may hold (limits.maxStreamBytes)`,
        );
    }
  }

  private receiveHere(query: ReceiveQuery, reply: StreamReply): void | Promise<void> {
    if (this.lifecycle.draining) return this.receiveFailed(reply, 'SHUTTING_DOWN', 'node is shutting down; retry');
    const timeoutSeconds = query.timeoutSeconds ?? DEFAULTS.timeoutSeconds;
    if (timeoutSeconds > this.limits.maxTimeoutSeconds) {
      return this.receiveFailed(
        reply,
        'INVALID_REQUEST',
        `timeoutSeconds must be at most ${this.limits.maxTimeoutSeconds}`,
      );
    }
    if (query.readFromDB === true || query.dbResumeToken !== undefined) {
      return this.stored.receive(query, timeoutSeconds, reply, timeoutSeconds > 0 ? abortOnHangUp(reply) : undefined);
    }
    const receive = new InMemoryReceive(this, query, reply);
    const outcome = this.engine.receiveOrPark(
      query.streamId,
      {
        timeoutMs: timeoutSeconds * 1000,
        maxMessages: query.maxMessages ?? 1,
        signal: timeoutSeconds > 0 ? receive : undefined,
      },
      receive,
    );
    if (outcome !== PARKED) this.answerReceive(outcome, query, reply);
  }

  /** Writes a receive's outcome; messages taken for a client that has gone go back to the head of the stream. */
  answerReceive(outcome: ReceiveOutcome, query: ReceiveQuery, reply: StreamReply): void {
    if (Array.isArray(outcome)) {
      if (clientGone(reply)) {
        // Taken for a receiver that hung up: back to the head, so the next receiver gets it.
        this.engine.returnToHead(query.streamId, outcome);
        return;
      }
      this.metrics.receiveOutcome.delivered.inc();
      const payload =
        query.maxMessages === undefined
          ? serializeMessage(toWire(outcome[0]))
          : serializeBatch({ messages: outcome.map(toWire) });
      reply.code(200).type('application/json; charset=utf-8').send(payload);
      return;
    }
    switch (outcome) {
      case 'timeout':
        this.metrics.receiveOutcome.timeout.inc();
        return this.receiveFailed(
          reply,
          'NO_MESSAGE',
          `no message within ${query.timeoutSeconds ?? DEFAULTS.timeoutSeconds} s`,
        );
      case 'aborted':
        return;
      case 'too_many_waiters':
        return this.receiveFailed(reply, 'TOO_MANY_WAITERS', 'too many receivers waiting');
      case 'too_many_streams':
        return this.receiveFailed(reply, 'TOO_MANY_STREAMS', 'this node holds its maximum number of streams');
      case 'shutting_down':
        // A 424 tells a long-polling client to simply poll again, which reaches a live node.
        return this.receiveFailed(reply, 'NO_MESSAGE', 'node is shutting down; poll again');
      case 'moved':
        return this.receiveFailed(reply, 'NO_MESSAGE', STREAM_MOVED);
    }
  }

  private reject(reply: StreamReply, code: Parameters<typeof sendError>[1], error: string): void {
    if (code !== 'SEND_TIMEOUT') this.metrics.sendOutcome.rejected.inc();
    void sendError(reply, code, error);
  }

  private receiveFailed(reply: StreamReply, code: Parameters<typeof sendError>[1], error: string): void {
    if (code !== 'NO_MESSAGE') this.metrics.receiveOutcome.rejected.inc();
    void sendError(reply, code, error);
  }
}

/** A message's size for the memory budget: the bytes of the request it came in (envelope included). */
function requestBytes(reply: StreamReply): number {
  return reply.request.rawBody!.length;
}

function toWire(message: StreamMessage): ReceivedMessage {
  return {
    messageUuid: message.messageUuid,
    message: message.message,
    timestamp: isoTimestamp(message.timestamp),
  };
}

/**
 * The client closed its connection: anything written now would be lost. Node ends the socket as soon as it
 * reads the client's FIN, but the response emits 'close' (and `destroyed`) only later, so check the socket.
 */
function clientGone(reply: StreamReply): boolean {
  // The request's socket: a response to a pipelined request has none until the answers before it are written.
  const socket = reply.request.raw.socket;
  return reply.raw.destroyed || socket === null || !socket.writable;
}

/**
 * The engine's hang-up signal for an in-memory wait: a listener on the connection, added only if the request
 * parks (most take a buffered message at once) and removed when it is answered. The connection rather than
 * the response, because a pipelined request's response hears nothing until the answers before it are written.
 */
class ClientHangUp implements HangUpSignal {
  constructor(protected readonly reply: StreamReply) {}

  get aborted(): boolean {
    return clientGone(this.reply);
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    // Not `once`: the engine removes the listener when the wait ends, and once's wrapper would cost memory.
    this.reply.request.raw.socket.on('close', listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    this.reply.request.raw.socket.removeListener('close', listener);
  }
}

/** One in-memory receive: its hang-up signal, and the listener the engine answers if it parks. */
class InMemoryReceive extends ClientHangUp implements WaitListener<ReceiveOutcome> {
  constructor(
    private readonly controller: StreamsController,
    private readonly query: ReceiveQuery,
    reply: StreamReply,
  ) {
    super(reply);
  }

  settled(outcome: ReceiveOutcome): void {
    try {
      this.controller.answerReceive(outcome, this.query, this.reply);
    } catch (err) {
      // Called from another request's send or a timer: a bug here must fail this request, not that one.
      this.reply.send(err as Error);
    }
  }
}

/** An AbortSignal that fires if the client hangs up before we answer (for the message store's waits). */
function abortOnHangUp(reply: StreamReply): AbortSignal {
  const controller = new AbortController();
  const res = reply.raw;
  // The client may have gone already, while the body was read and validated.
  if (clientGone(reply)) controller.abort();
  const onClose = (): void => {
    if (!res.writableFinished) controller.abort();
  };
  res.once('close', onClose);
  return controller.signal;
}
