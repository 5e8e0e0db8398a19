import type { ServerResponse } from 'node:http';
import { once } from 'node:events';
import { Inject, Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import type { EventsQuery } from '@ipubsub/sdk/wire';
import type { StreamReply, StreamRequest } from './exchange.js';
import { AUTHENTICATOR, type Authenticator } from '../auth/index.js';
import { APP_CONFIG, type AppConfig } from '../config/index.js';
import { Metrics } from '../observability/index.js';
import { StoredStreams, type ReadResult, type StorePosition } from '../store/index.js';
import { StreamEngine, type MemoryBudget } from '../streams/index.js';
import { sendDenial, sendError } from './errors.js';
import { ClusterForwarding, isForwarded } from './forwarding.js';
import { storedMessageFields } from './stored-http.js';

/** Messages read per page of a live tail; a reader that is behind catches up a page at a time. */
const PAGE_SIZE = 100;
/** Tells a reconnecting EventSource how long to wait before it reconnects (the browser default is 3 s). */
const RETRY_MS = 1_000;
const GAP_EVENT = 'event: gap\ndata: {"reason":"expired"}\n\n';
const HEARTBEAT = ': keep-alive\n\n';

/**
 * `GET /api/v1/streams/events`: a stored stream as Server-Sent Events. Replays what is stored after the
 * reader's position, then sends each message as it is stored; each event's `id` is the resume token after
 * it, so a reconnecting EventSource (`Last-Event-ID`) continues with neither gap nor duplicate.
 *
 * Tails of one stream wake together and share their reads (StoredStreams.follow), so each page is rendered
 * once however many readers it goes to. A reader whose connection does not take its events (more than
 * `events.maxPendingBytes` unsent, or more than the node's memory budget has room for) is disconnected: it
 * resumes from its last id, and the node buffers nothing without bound.
 */
@Injectable()
export class StreamEventsController {
  private readonly settings: AppConfig['events'];
  /** Each page's events, rendered by the first of the readers it goes to. */
  private readonly rendered = new WeakMap<ReadResult, string>();
  private open = 0;
  private readonly budget: MemoryBudget;
  private readonly eventsSent: Counter;
  private readonly slowReadersDropped: Counter;

  constructor(
    @Inject(StoredStreams) private readonly stored: StoredStreams,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(AUTHENTICATOR) private readonly auth: Authenticator | null,
    @Inject(ClusterForwarding) private readonly cluster: ClusterForwarding,
    @Inject(StreamEngine) engine: StreamEngine,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.settings = config.events;
    this.budget = engine.budget;
    metrics.gauge('ipubsub_event_streams_open', 'Live tails (Server-Sent Events) open on this node', () => this.open);
    this.eventsSent = new Counter({
      name: 'ipubsub_events_sent_total',
      help: 'Messages sent to live tails (Server-Sent Events)',
      registers: [metrics.registry],
    });
    this.slowReadersDropped = new Counter({
      name: 'ipubsub_event_readers_dropped_total',
      help: 'Live tails disconnected because their connection did not take the events sent to it',
      registers: [metrics.registry],
    });
  }

  async serve(query: EventsQuery, req: StreamRequest, reply: StreamReply): Promise<void> {
    // A tail relayed by another member was authorized there; the router checks that member's signature.
    if (this.auth !== null && !(this.cluster.active && isForwarded(req))) {
      // EventSource cannot set headers: the token may come in the query instead, on this route only.
      const authorization =
        req.headers.authorization ?? (query.access_token === undefined ? undefined : `Bearer ${query.access_token}`);
      const denied = await this.auth.authorize(authorization, 'receive', query.streamId);
      if (denied !== undefined) return void sendDenial(reply, denied);
    }
    if (this.cluster.active && (await this.cluster.routeTail(query.streamId, req, reply)) === 'answered') return;
    let start;
    try {
      start = await this.startPosition(query, req.headers['last-event-id']);
    } catch {
      void sendError(reply, 'STORE_UNAVAILABLE', 'message store unavailable; retry later');
      return;
    }
    if (start === 'invalid') {
      this.metrics.receiveOutcome.rejected.inc();
      void sendError(reply, 'INVALID_RESUME_TOKEN', 'resume token is malformed, tampered with, or of another stream');
      return;
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // nginx and similar proxies buffer responses unless told not to.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${RETRY_MS}\n\n`);
    this.open++;
    const ended = new AbortController();
    const hangUp = (): void => ended.abort();
    res.on('close', hangUp);
    // Ends the tail after its lifetime, so long-lived readers spread over the members again as they reconnect.
    const lifetime = setTimeout(hangUp, this.settings.maxLifetimeSeconds * 1000);
    try {
      await this.tail(query.streamId, start, res, ended.signal);
    } catch {
      // The store failed mid-tail: the stream ends and the reader reconnects from its last id.
    } finally {
      clearTimeout(lifetime);
      res.off('close', hangUp);
      this.open--;
      if (!res.destroyed) res.end();
    }
  }

  private async tail(streamId: string, after: StorePosition | null, res: ServerResponse, ended: AbortSignal) {
    const steps = this.stored.follow(streamId, after, PAGE_SIZE, this.settings.heartbeatSeconds * 1000, ended);
    for await (const step of steps) {
      if (res.destroyed) return;
      const text = step === 'idle' ? HEARTBEAT : this.render(streamId, step);
      if (!res.write(text)) {
        // What the connection has not taken yet is held in memory: counted in the node's budget until it drains.
        const pending = res.writableLength;
        if (pending > this.settings.maxPendingBytes || !this.budget.tryAcquire(pending)) {
          this.slowReadersDropped.inc();
          res.destroy();
          return;
        }
        await once(res, 'drain', { signal: ended })
          .catch(() => undefined)
          .finally(() => this.budget.release(pending));
      }
      if (step !== 'idle') this.eventsSent.inc(step.messages.length);
    }
  }

  /** A page's events: a gap event first when messages before it were lost to TTL, then one event per message. */
  private render(streamId: string, page: ReadResult): string {
    let text = this.rendered.get(page);
    if (text !== undefined) return text;
    text = page.gap ? GAP_EVENT : '';
    for (const message of page.messages) {
      text += `id: ${this.stored.issueToken(streamId, message.position)}\ndata: {${storedMessageFields(message)}}\n\n`;
    }
    this.rendered.set(page, text);
    return text;
  }

  /** Where the tail starts: after `Last-Event-ID` or the token, at the end (`from=now`), else at the oldest. */
  private async startPosition(
    query: EventsQuery,
    lastEventId: string | string[] | undefined,
  ): Promise<StorePosition | null | 'invalid'> {
    const token = typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : query.dbResumeToken;
    if (token !== undefined) return this.stored.openToken(query.streamId, token) ?? 'invalid';
    if (query.from === 'now') return this.stored.endPosition(query.streamId);
    return null;
  }
}
