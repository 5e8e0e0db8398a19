import { performance } from 'node:perf_hooks';
import {
  DEFAULTS,
  NodeWire,
  RING_VERSION_HEADER,
  type ReceivedMessage,
  type ReceiveQuery,
  type SendRequest,
} from '@ipubsub/sdk/wire';
import type { StreamReply, StreamRequest } from './exchange.js';
import type { Logger } from 'pino';
import {
  ClusterRouter,
  HERE,
  HOP_HEADER,
  PeerUnreachable,
  type Abandoned,
  type PeerClient,
  type RingMember,
} from '../cluster/index.js';
import { DomainError } from '../domain-error.js';
import { sendError, sendRefusal, STREAM_MOVED } from './errors.js';

/** `local`: this node owns the stream, serve it here. `answered`: the request was forwarded (or refused). */
export type Route = 'local' | 'answered';

/** One request on its way to its stream's owner. */
interface Routing {
  readonly streamId: string;
  readonly req: StreamRequest;
  readonly reply: StreamReply;
  /** Nodes it passed before this one. */
  readonly hop: number;
  /** When this node got it: a forwarded long poll gets the time it has left. */
  readonly startedAt: number;
  /** Re-routed once already because its owner vanished. */
  retried: boolean;
  /** A stored request on a node-local store: placed by the stream's home, not its live owner (StoredHomes). */
  readonly atHome: boolean;
  /** A live tail (Server-Sent Events): relayed from the owner as it comes, not forwarded as one answer. */
  readonly tail: boolean;
}

/** Beyond what the owner may legitimately wait (a long poll, a blocking send), how long a forward may take. */
const FORWARD_SLACK_MS = 30_000;
/** A long poll let go by a stream's previous owner is re-routed only with at least this much time left. */
const MOVED_REROUTE_MIN_MS = 1_000;

export interface ForwardCounters {
  forwarded(): void;
  unavailable(): void;
}

/**
 * Sends each stream request to the node ClusterRouter places it on. Any node accepts any request: the owner
 * serves it (`local`), any other node forwards it over a pooled keep-alive connection and relays the answer. A
 * long poll is forwarded with the time it has left; a client hanging up aborts the forwarded request; messages
 * a forwarded receive took for a client that has gone are given back to the head of the stream.
 */
export class ClusterForwarding {
  /** False on a single node: the controllers then never call `route` (no cost per request). */
  readonly active: boolean;

  constructor(
    private readonly router: ClusterRouter,
    private readonly peers: PeerClient,
    private readonly counters: ForwardCounters,
    private readonly logger: Logger,
  ) {
    this.active = router.active;
  }

  route(streamId: string, req: StreamRequest, reply: StreamReply): Route | Promise<Route> {
    return this.enter(streamId, req, reply, false);
  }

  /**
   * A live tail is served by its stream's owner, where stored messages are committed and tails woken; any other
   * node relays the owner's event stream. When the stream moves, the owner ends the tail and the reader
   * reconnects with its last id, reaching the new owner.
   */
  routeTail(streamId: string, req: StreamRequest, reply: StreamReply): Route | Promise<Route> {
    return this.enter(streamId, req, reply, true);
  }

  private enter(streamId: string, req: StreamRequest, reply: StreamReply, tail: boolean): Route | Promise<Route> {
    const hop = hopCount(req);
    if (hop === 0) {
      // Every answer tells the client which ring this node routes by: an SDK holding another refreshes its own.
      // (A forwarded request's answer is relayed without its headers: the entry node sets its own.)
      reply.header(RING_VERSION_HEADER, this.router.ringFingerprint);
    } else {
      const problem = this.router.refuseForwarded(req.method, req.url, hop, streamId, req.headers);
      if (problem !== null) {
        void sendError(reply, 'INVALID_REQUEST', `forwarded request refused: ${problem}`);
        return 'answered';
      }
    }
    // A live tail reads the store of the node serving it: on a node-local store, the stream's home.
    const atHome = this.router.homesEnabled && (tail || isStored(req));
    // The common case on an owner, without allocating anything.
    if (!atHome && this.router.ownsNow(streamId)) return 'local';
    // A forwarded long poll's time runs from the request's arrival, as its client counts it.
    const startedAt = req.arrivedAt;
    return this.dispatch({ streamId, req, reply, hop, startedAt, retried: false, atHome, tail });
  }

  /**
   * A stored long poll served here whose stream moved to another node while it waited (StoredStreamsHttp's
   * `movedReads`): it goes on to the new owner with the time it has left. A leaving node keeps no long poll
   * open: it answers 424 (poll again), and a node that forwarded the poll here re-routes it (`forward`).
   */
  async rerouteMoved(streamId: string, reply: StreamReply, startedAt: number): Promise<void> {
    if (!this.router.leaving) {
      const req = reply.request;
      const routing: Routing = {
        streamId,
        req,
        reply,
        hop: hopCount(req),
        startedAt,
        retried: true,
        atHome: this.router.homesEnabled,
        tail: false,
      };
      // 'local' only if the stream came straight back (or no member is left): the client polls again.
      if ((await this.dispatch(routing)) === 'answered') return;
    }
    void sendError(reply, 'NO_MESSAGE', STREAM_MOVED);
  }

  private dispatch(routing: Routing): Route | Promise<Route> {
    // Hung up while its request waited for a hand-off: nothing left to serve.
    if (routing.reply.raw.destroyed) return 'answered';
    const placed = this.router.place(routing.streamId, routing.atHome, routing.hop);
    if (placed === HERE) return 'local';
    if (placed instanceof Promise) return placed.then(() => this.dispatch(routing));
    if (placed instanceof DomainError) return this.unavailable(routing.reply, placed);
    return routing.tail ? this.relayTail(placed, routing) : this.forward(placed, routing);
  }

  private async relayTail(owner: RingMember, routing: Routing): Promise<Route> {
    const { streamId, req, reply } = routing;
    const lastEventId = req.headers['last-event-id'];
    try {
      await this.peers.relayTail(
        owner.http,
        {
          path: req.url,
          hop: routing.hop + 1,
          grant: this.router.grantFor(req.method, streamId),
          lastEventId: typeof lastEventId === 'string' ? lastEventId : undefined,
        },
        reply.raw,
        () => {
          reply.hijack();
        },
      );
      this.counters.forwarded();
    } catch (err) {
      const code = err instanceof PeerUnreachable ? err.code : 'error';
      if (!reply.raw.destroyed) return this.unavailable(reply, ownerSilent(streamId, owner, code));
    }
    return 'answered';
  }

  private async forward(owner: RingMember, routing: Routing): Promise<Route> {
    const { streamId, req, reply } = routing;
    const receive = req.method === 'GET';
    let path = req.url;
    let waitMs: number;
    /** When the client's long poll ends (performance.now() time); 0 for a send. */
    let deadline = 0;
    if (receive) {
      const asked = (req.query as ReceiveQuery).timeoutSeconds ?? DEFAULTS.timeoutSeconds;
      if (asked > 0 && this.router.left) return this.shuttingDown(reply, true);
      deadline = routing.startedAt + asked * 1000;
      const remaining = secondsLeft(deadline);
      if (remaining !== asked) path = withTimeout(req.url, remaining);
      waitMs = remaining * 1000;
    } else {
      waitMs = ((req.body as SendRequest).blockingSendTimeoutSeconds ?? 0) * 1000;
    }
    try {
      const response = await this.peers.request(owner.http, {
        method: receive ? 'GET' : 'POST',
        path,
        hop: routing.hop + 1,
        body: receive ? undefined : req.rawBody,
        grant: this.router.grantFor(req.method, streamId),
        // Only a call that may wait is worth abandoning when its client hangs up; the owner answers others at once.
        answering: waitMs > 0 ? reply.raw : undefined,
        timeoutMs: waitMs + FORWARD_SLACK_MS,
      });
      this.counters.forwarded();
      if (reply.raw.destroyed) {
        if (receive && response.status === 200 && (req.query as ReceiveQuery).readFromDB !== true) {
          this.giveBack(owner, streamId, response.body);
        }
        return 'answered';
      }
      // A 424 long before the deadline, from a node that no longer owns the stream: it let the poll go because
      // the stream moved (a hand-off, the owner leaving). The new owner takes it, once, with the time left.
      // (A 424 for a poll that ran its course arrives within half a second of the deadline.)
      const movedAway =
        response.status === 424 && receive && !routing.retried && deadline - performance.now() >= MOVED_REROUTE_MIN_MS;
      if (movedAway && this.router.ownerOf(streamId, routing.atHome)?.name !== owner.name)
        return this.reroute(routing, deadline);
      if (response.contentType !== undefined) reply.header('content-type', response.contentType);
      if (response.retryAfter !== undefined) reply.header('retry-after', response.retryAfter);
      reply.code(response.status).send(response.body);
    } catch (err) {
      const code = err instanceof PeerUnreachable ? err.code : 'error';
      if (code === ('client-hung-up' satisfies Abandoned)) return 'answered';
      if (code === ('shutting-down' satisfies Abandoned)) return this.shuttingDown(reply, receive);
      // The owner left the ring while the request waited on it (a long poll behind a partition), or refused the
      // connection because it is gone: the stream's new owner takes the request, once.
      const ownerGone = code === ('peer-left' satisfies Abandoned) || code === 'ECONNREFUSED';
      if (!routing.retried && ownerGone && this.router.ownerOf(streamId, routing.atHome)?.name !== owner.name)
        return this.reroute(routing, deadline);
      this.unavailable(reply, ownerSilent(streamId, owner, code));
    }
    return 'answered';
  }

  private unavailable(reply: StreamReply, refusal: DomainError): Route {
    this.counters.unavailable();
    sendRefusal(reply, refusal);
    return 'answered';
  }

  /**
   * A forwarded request whose owner let it go or vanished goes to the stream's new owner, once. If that is this
   * node, the controller serves the long poll here, for the time it has left (`deadline`, 0 for a send) rather
   * than the timeout the client asked for.
   */
  private async reroute(routing: Routing, deadline: number): Promise<Route> {
    routing.retried = true;
    const route = await this.dispatch(routing);
    if (route === 'local' && deadline > 0) (routing.req.query as ReceiveQuery).timeoutSeconds = secondsLeft(deadline);
    return route;
  }

  /**
   * This node has left: a long poll would keep it from exiting, so the client is told to poll (or send) again,
   * which reaches a live node — as a draining single node answers its waiters.
   */
  private shuttingDown(reply: StreamReply, receive: boolean): Route {
    if (receive) void sendError(reply, 'NO_MESSAGE', 'node is shutting down; poll again');
    else void sendError(reply, 'SHUTTING_DOWN', 'node is shutting down; retry');
    return 'answered';
  }

  /** The owner handed over messages for a client that hung up meanwhile: back to the head of the stream. */
  private giveBack(owner: RingMember, streamId: string, body: Buffer): void {
    const answer = JSON.parse(body.toString()) as ReceivedMessage | { messages: ReceivedMessage[] };
    const received = 'messages' in answer ? answer.messages : [answer];
    const messages: NodeWire.ReturnRequest['messages'] = received.map((message) => ({
      messageUuid: message.messageUuid,
      message: message.message,
      timestamp: Date.parse(message.timestamp),
    }));
    const request: NodeWire.ReturnRequest = { streamId, messages };
    void this.peers.call(owner.http, NodeWire.RETURN_PATH, request, FORWARD_SLACK_MS).catch((err: unknown) => {
      this.logger.error(
        { streamId, owner: owner.name, messages: messages.length, err: (err as Error).message },
        'could not give back messages of a client that hung up',
      );
    });
  }
}

/**
 * Whether a request claims to come from another member: `route` then checks its signature (and grant), so the
 * token check of a client's request is not repeated on the owner.
 */
export function isForwarded(req: StreamRequest): boolean {
  return hopCount(req) !== 0;
}

function ownerSilent(streamId: string, owner: RingMember, code: string): DomainError {
  return new DomainError(
    'OWNER_UNAVAILABLE',
    `the owner of stream ${streamId} (${owner.name}) did not answer (${code}); retry`,
  );
}

/** A request for the stream's stored messages (docs/contract.md §2–3: `writeToDB` sends, `readFromDB` or token receives). */
function isStored(req: StreamRequest): boolean {
  if (req.method === 'GET') {
    const query = req.query as ReceiveQuery;
    return query.readFromDB === true || query.dbResumeToken !== undefined;
  }
  return (req.body as SendRequest).writeToDB === true;
}

/** Nodes a request passed before this one (0: straight from a client); `route` refuses malformed counts. */
function hopCount(req: StreamRequest): number {
  const header = req.headers[HOP_HEADER];
  return header === undefined ? 0 : Number(header);
}

/** The URL with its `timeoutSeconds` replaced. */
function withTimeout(url: string, seconds: number): string {
  const query = url.indexOf('?');
  const params = new URLSearchParams(query < 0 ? '' : url.slice(query + 1));
  params.set('timeoutSeconds', String(seconds));
  return `${query < 0 ? url : url.slice(0, query)}?${params}`;
}

/** Whole seconds on the wire: a long poll's wait ends within half a second of the client's `deadline`. */
function secondsLeft(deadline: number): number {
  return Math.max(0, Math.round((deadline - performance.now()) / 1000));
}
