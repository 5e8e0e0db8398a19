import { performance } from 'node:perf_hooks';
import {
  DEFAULTS,
  NodeWire,
  RING_VERSION_HEADER,
  type ReceivedMessage,
  type ReceiveQuery,
  type SendRequest,
} from '@ipubsub/sdk/wire';
import type { StreamReply, StreamRequest } from '../api/exchange.js';
import type { Logger } from 'pino';
import { sendError, STREAM_MOVED } from '../api/errors.js';
import { AUTH_HEADER, forwardedGrant, GRANT_HEADER, HOP_HEADER, type ClusterAuth } from './auth.js';
import type { HandOff } from './handoff.js';
import type { Membership } from './membership/membership.js';
import { PeerUnreachable, type Abandoned, type PeerClient } from './peer-client.js';
import type { Ring, RingMember } from './ring.js';
import type { StoredHomes } from './stored-homes.js';

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

/** A request may be forwarded, then re-routed once by a node with a newer ring; a third hop is refused. */
const MAX_HOPS = 2;
/** Beyond what the owner may legitimately wait (a long poll, a blocking send), how long a forward may take. */
const FORWARD_SLACK_MS = 30_000;
/** A long poll let go by a stream's previous owner is re-routed only with at least this much time left. */
const MOVED_REROUTE_MIN_MS = 1_000;

export interface ForwardCounters {
  forwarded(): void;
  unavailable(): void;
}

/**
 * Sends each stream request to the stream's owner. Any node accepts any request: the owner serves it
 * (`local`), any other node forwards it over a pooled keep-alive connection and relays the answer. A long
 * poll is forwarded with the time it has left; a client hanging up aborts the forwarded request; messages
 * a forwarded receive took for a client that has gone are given back to the head of the stream.
 */
export class ClusterRouter {
  /** False on a single node: the controller then never calls `route` (no cost per request). */
  readonly active: boolean;
  private readonly self: string;

  constructor(
    private readonly membership: Membership,
    private readonly handOff: HandOff,
    private readonly homes: StoredHomes,
    private readonly peers: PeerClient,
    private readonly auth: ClusterAuth,
    private readonly counters: ForwardCounters,
    private readonly logger: Logger,
    /**
     * `auth.mode: jwt`: this node checked the token of a request it forwards, and the owner serves a forwarded
     * request only if its signed GRANT_HEADER names the request's own action and stream.
     */
    private readonly grants: boolean,
  ) {
    this.active = membership.clustered;
    this.self = membership.self.name;
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
    // Every answer tells the client which ring this node routes by: an SDK holding another refreshes its own.
    reply.header(RING_VERSION_HEADER, this.membership.ring.fingerprint);
    const hop = hopCount(req);
    if (hop !== 0) {
      const problem = !Number.isInteger(hop) || hop < 0 ? `bad ${HOP_HEADER} header` : this.verify(req, hop, streamId);
      if (problem !== null) {
        void sendError(reply, 'INVALID_REQUEST', `forwarded request refused: ${problem}`);
        return 'answered';
      }
    }
    // A live tail reads the store of the node serving it: on a node-local store, the stream's home.
    const atHome = this.homes.enabled && (tail || isStored(req));
    // The common case on an owner, without allocating anything.
    if (!atHome && this.handOff.open && this.membership.ring.owner(streamId)?.name === this.self) return 'local';
    const startedAt = performance.now();
    return this.dispatch({ streamId, req, reply, hop, startedAt, retried: false, atHome, tail });
  }

  /**
   * A stored long poll served here whose stream moved to another node while it waited (StoredStreamsHttp's
   * `movedReads`): it goes on to the new owner with the time it has left. A leaving node keeps no long poll
   * open: it answers 424 (poll again), and a node that forwarded the poll here re-routes it (`forward`).
   */
  async rerouteMoved(streamId: string, reply: StreamReply, startedAt: number): Promise<void> {
    if (!this.handOff.leavingCluster) {
      const req = reply.request;
      const routing: Routing = {
        streamId,
        req,
        reply,
        hop: hopCount(req),
        startedAt,
        retried: true,
        atHome: this.homes.enabled,
        tail: false,
      };
      // 'local' only if the stream came straight back (or no member is left): the client polls again.
      if ((await this.dispatch(routing)) === 'answered') return;
    }
    void sendError(reply, 'NO_MESSAGE', STREAM_MOVED);
  }

  private verify(req: StreamRequest, hop: number, streamId: string): string | null {
    const grant = req.headers[GRANT_HEADER];
    if (this.grants) {
      // Without a secret anyone could claim a member's decision (start-up refuses that configuration).
      if (!this.auth.enabled) return 'auth.mode jwt needs cluster.secret to trust forwarded requests';
      if (grant !== forwardedGrant(req.method, streamId))
        return `${GRANT_HEADER} does not name this request's action and stream`;
    }
    if (!this.auth.enabled) return null;
    const signedGrant = typeof grant === 'string' ? grant : '';
    return this.auth.verifyRequest(req.headers[AUTH_HEADER], req.method, req.url, hop, '', Date.now(), signedGrant);
  }

  private dispatch(routing: Routing): Route | Promise<Route> {
    const { streamId, reply } = routing;
    // Hung up while its request waited for a hand-off: nothing left to serve.
    if (reply.raw.destroyed) return 'answered';
    const owner = this.ringOf(routing).owner(streamId);
    // No owner at all: the last node is leaving; the controller answers as a draining node does.
    if (owner === undefined) return 'local';
    if (routing.atHome && this.membership.isDown(owner.name)) return this.unavailable(reply, homeDown(streamId, owner));
    if (owner.name === this.self) {
      if (this.handOff.open) {
        const problem = routing.atHome ? this.homes.notServable(streamId) : null;
        return problem === null ? 'local' : this.unavailable(reply, problem);
      }
      // Streams are still arriving from their previous owners: serve this one behind them.
      return this.handOff.whenOpen().then(() => this.dispatch(routing));
    }
    if (routing.hop >= MAX_HOPS)
      return this.unavailable(reply, `the owner of stream ${streamId} moved while the request was forwarded; retry`);
    const handing = this.handOff.handingTo(owner.name);
    if (handing !== undefined) return handing.then(() => this.dispatch(routing));
    return routing.tail ? this.relayTail(owner, routing) : this.forward(owner, routing);
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
          grant: this.grants ? forwardedGrant(req.method, streamId) : undefined,
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
      if (!reply.raw.destroyed)
        return this.unavailable(
          reply,
          `the owner of stream ${streamId} (${owner.name}) did not answer (${code}); retry`,
        );
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
      if (asked > 0 && this.handOff.left) return this.shuttingDown(reply, true);
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
        body: receive ? undefined : JSON.stringify(req.body),
        grant: this.grants ? forwardedGrant(req.method, streamId) : undefined,
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
      if (movedAway && this.ringOf(routing).owner(streamId)?.name !== owner.name)
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
      if (!routing.retried && ownerGone && this.ringOf(routing).owner(streamId)?.name !== owner.name)
        return this.reroute(routing, deadline);
      this.unavailable(reply, `the owner of stream ${streamId} (${owner.name}) did not answer (${code}); retry`);
    }
    return 'answered';
  }

  private ringOf(routing: Routing): Ring {
    return routing.atHome ? this.membership.homes : this.membership.ring;
  }

  private unavailable(reply: StreamReply, error: string): Route {
    this.counters.unavailable();
    void sendError(reply, 'OWNER_UNAVAILABLE', error);
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

function homeDown(streamId: string, home: RingMember): string {
  return `stored messages of stream ${streamId} are kept by ${home.name} (node-local store), which is down; retry once it is back`;
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
