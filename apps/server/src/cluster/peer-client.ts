import type { ServerResponse } from 'node:http';
import { AUTH_HEADER, GRANT_HEADER, HOP_HEADER, type ClusterAuth } from './auth.js';
import { PeerCall, PeerConnections, TailRelay } from './peer-connections.js';
import {
  INTERNAL_CONTENT_TYPE,
  PeerRefused,
  type PeerRequest,
  type PeerResponse,
  type PeerTailRequest,
  type PeerTrust,
  type SiblingRoutes,
} from './peer-types.js';

/** Callers take the requests, answers and errors from here too. */
export * from './peer-types.js';

/**
 * HTTP to the other nodes, signed with the cluster secret: per node, keep-alive connections each carrying one
 * call at a time (a forwarded long poll holds its connection), as many as calls run at once. Calls in flight can
 * all be abandoned when this node shuts down or the peer leaves.
 *
 * Not undici's Pool with `request()`: per call that costs a body stream, an AbortController with its listeners
 * and a few more promise turns, about a third of the forwarding node's CPU per forwarded send; and calls made
 * back to back opened more connections than ran at once. Here a connection goes back to its idle list as soon
 * as its answer is in, and the next call queues on it; undici's dispatch API hands the answer to a plain handler.
 */
export class PeerClient {
  private readonly peers = new Map<string, PeerConnections>();

  private constructor(
    private readonly auth: ClusterAuth,
    private readonly Client: typeof import('undici').Client | undefined,
    private readonly trust: PeerTrust | undefined,
    private readonly siblings: SiblingRoutes | undefined,
  ) {}

  /**
   * undici is imported only by a node in a cluster: a single node never calls another, and it costs memory.
   * `trust`: the certificates that verify peers' https:// URLs (default: the system's). `siblings`: members
   * on this machine that forwarded stream requests reach another way.
   */
  static async create(
    auth: ClusterAuth,
    clustered: boolean,
    trust?: PeerTrust,
    siblings?: SiblingRoutes,
  ): Promise<PeerClient> {
    return new PeerClient(auth, clustered ? (await import('undici')).Client : undefined, trust, siblings);
  }

  request(base: string, request: PeerRequest): Promise<PeerResponse> {
    // Node-to-node calls (hand-off, pulls: rare, and possibly large) stay on HTTP.
    if (request.contentType === undefined && this.siblings?.has(base) === true)
      return this.siblings.request(base, request, this.signature(request));
    const headers = this.signedHeaders(request);
    if (request.body !== undefined) headers['content-type'] = request.contentType ?? 'application/json';
    const peer = this.connectionsTo(base);
    const client = peer.idle.pop() ?? peer.open();
    return new Promise((resolve, reject) => {
      const call = new PeerCall(peer, client, resolve, reject, request.answering);
      client.dispatch(
        {
          method: request.method,
          path: request.path,
          headers,
          body: request.body,
          headersTimeout: request.timeoutMs,
          bodyTimeout: request.timeoutMs,
        },
        call,
      );
    });
  }

  /**
   * Relays a live tail (Server-Sent Events) from the stream's owner to `answer` as it comes, on a connection of
   * its own (a tail holds it for as long as it lasts). The owner's stream is read only as fast as the reader
   * takes it, so a slow reader is the owner's to drop. Resolves when the tail ends, whichever side ends it;
   * rejects with PeerUnreachable when the owner did not answer at all (nothing was written to `answer`).
   * `begin` is called once the owner's answer starts, before anything is written.
   */
  relayTail(base: string, request: PeerTailRequest, answer: ServerResponse, begin: () => void): Promise<void> {
    const headers = this.signedHeaders({ method: 'GET', ...request });
    if (request.lastEventId !== undefined) headers['last-event-id'] = request.lastEventId;
    const peer = this.connectionsTo(base);
    const client = peer.open();
    return new Promise((resolve, reject) => {
      const relay = new TailRelay(peer, client, answer, begin, resolve, reject);
      client.dispatch({ method: 'GET', path: request.path, headers, bodyTimeout: 0 }, relay);
    });
  }

  /** A node-to-node call (hop 0) with a JSON payload; resolves to the parsed answer, throws unless 200. */
  async call<T>(base: string, path: string, payload: unknown, timeoutMs: number): Promise<T> {
    const response = await this.request(base, {
      method: 'POST',
      path,
      hop: 0,
      body: JSON.stringify(payload),
      contentType: INTERNAL_CONTENT_TYPE,
      timeoutMs,
    });
    const body = response.body.toString();
    if (response.status !== 200) throw new PeerRefused(path, base, response.status, errorCode(body), body);
    return JSON.parse(body) as T;
  }

  /** Abandons every call in flight (shutdown): forwarded long polls stop waiting on their owners. */
  abortAll(): void {
    for (const peer of this.peers.values()) peer.abandonCalls('shutting-down');
    this.siblings?.abandonAll('shutting-down');
  }

  /**
   * Gives up on calls to nodes that are no longer members (declared dead, or left): behind a partition their
   * connections may hang until the timeout, and the stream has a new owner by now. Their connections are closed.
   */
  retainOnly(bases: ReadonlySet<string>): void {
    this.siblings?.retainOnly(bases);
    for (const [base, peer] of this.peers) {
      if (bases.has(base)) continue;
      this.peers.delete(base);
      peer.abandonCalls('peer-left');
      void peer.destroy();
    }
  }

  async close(): Promise<void> {
    this.siblings?.close();
    const peers = [...this.peers.values()];
    this.peers.clear();
    await Promise.all(peers.map((peer) => peer.destroy()));
  }

  /** The hop count, the access decision and the cluster's signature over the request. */
  private signedHeaders(request: Omit<PeerRequest, 'timeoutMs'>): Record<string, string> {
    const headers: Record<string, string> = { [HOP_HEADER]: String(request.hop) };
    if (request.grant !== undefined) headers[GRANT_HEADER] = request.grant;
    if (this.auth.enabled) headers[AUTH_HEADER] = this.signature(request);
    return headers;
  }

  /** The AUTH_HEADER value of a request, '' when the cluster has no secret. */
  private signature(request: Omit<PeerRequest, 'timeoutMs'>): string {
    if (!this.auth.enabled) return '';
    const { method, path, hop, grant } = request;
    return this.auth.signRequest(method, path, hop, internalBody(request), Date.now(), grant);
  }

  private connectionsTo(base: string): PeerConnections {
    let peer = this.peers.get(base);
    if (peer === undefined) {
      if (this.Client === undefined) throw new Error('a single node has no peers to call');
      peer = new PeerConnections(base, this.Client, this.trust);
      this.peers.set(base, peer);
    }
    return peer;
  }
}

/** Internal calls sign their body; forwarded client requests do not (a client could send that body itself). */
function internalBody(request: Pick<PeerRequest, 'body' | 'contentType'>): string | Buffer {
  return request.contentType === INTERNAL_CONTENT_TYPE ? (request.body ?? '') : '';
}

/** The `code` of an `{error, code}` answer, if the body is one. */
function errorCode(body: string): string | undefined {
  try {
    const code = (JSON.parse(body) as { code?: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}
