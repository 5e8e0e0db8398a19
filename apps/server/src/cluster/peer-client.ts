import type { ServerResponse } from 'node:http';
import type { Client, Dispatcher } from 'undici';
import { AUTH_HEADER, GRANT_HEADER, HOP_HEADER, type ClusterAuth } from './auth.js';

/** Content type of node-to-node calls (hand-off, pulls); their routes parse it themselves, with their own limit. */
export const INTERNAL_CONTENT_TYPE = 'application/x-ipubsub-cluster+json';

export interface PeerRequest {
  readonly method: 'GET' | 'POST';
  /** Path and query. */
  readonly path: string;
  readonly hop: number;
  readonly body?: string;
  readonly contentType?: string;
  /** A forwarded stream request's access decision (GRANT_HEADER), signed with the rest. */
  readonly grant?: string;
  /** The client's answer this call waits for: if the client hangs up first, the call is abandoned (`client-hung-up`). */
  readonly answering?: ServerResponse;
  /** No answer by then: the peer is unreachable. */
  readonly timeoutMs: number;
}

/** A live tail relayed from the stream's owner: the reader's resume point goes along. */
export interface PeerTailRequest {
  readonly path: string;
  readonly hop: number;
  readonly grant?: string;
  readonly lastEventId?: string;
}

/** Headers of a relayed live tail's answer that the reader needs. */
const RELAYED_HEADERS = ['content-type', 'cache-control', 'x-accel-buffering', 'www-authenticate', 'retry-after'];

export interface PeerResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  /** Relayed with a 503 (MEMORY_FULL), so the client waits as the owner asked. */
  readonly retryAfter: string | undefined;
  /** As received: relayed to the client without decoding. */
  readonly body: Buffer;
}

/**
 * Members on this machine reached without HTTP (the sibling workers of `node.workers`, see workers/): forwarded
 * stream requests to them take this way, with the same signed headers and the same outcomes as over HTTP.
 */
export interface SiblingRoutes {
  has(base: string): boolean;
  request(base: string, request: PeerRequest, headers: Record<string, string>): Promise<PeerResponse>;
  abandonAll(reason: Abandoned): void;
  /** Members not in `bases` left the ring: their calls end with `peer-left`. */
  retainOnly(bases: ReadonlySet<string>): void;
  close(): void;
}

/** Certificates (PEM) that verify peers' https:// certificates, in place of the system's. */
export interface PeerTrust {
  readonly ca: string[];
}

/** Why this node gave up on one of its calls in flight (the `code` of the PeerUnreachable it ends with). */
export type Abandoned = 'shutting-down' | 'peer-left' | 'client-hung-up';

/** A call to another node that did not get an answer (refused, reset, timed out, or abandoned by us). */
export class PeerUnreachable extends Error {
  override readonly name = 'PeerUnreachable';
  constructor(
    readonly peer: string,
    readonly code: string,
    options: { cause: unknown },
  ) {
    super(`node at ${peer} did not answer (${code})`, options);
  }
}

/** A node-to-node call the other node answered with an error: `code` is its `{error, code}` answer's. */
export class PeerRefused extends Error {
  override readonly name = 'PeerRefused';
  constructor(
    readonly path: string,
    readonly peer: string,
    readonly status: number,
    readonly code: string | undefined,
    body: string,
  ) {
    super(`${path} at ${peer} answered ${status}: ${body.slice(0, 200)}`);
  }
}

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
    const headers = this.signedHeaders(request);
    if (request.body !== undefined) headers['content-type'] = request.contentType ?? 'application/json';
    // Node-to-node calls (hand-off, pulls: rare, and possibly large) stay on HTTP.
    if (request.contentType === undefined && this.siblings?.has(base) === true)
      return this.siblings.request(base, request, headers);
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
    if (this.auth.enabled) {
      const { method, path, hop, grant } = request;
      headers[AUTH_HEADER] = this.auth.signRequest(method, path, hop, internalBody(request), Date.now(), grant);
    }
    return headers;
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

/** One peer's connections (an undici Client is one connection) and the calls in flight to it. */
class PeerConnections {
  /** Connections with no call, the most recently used last (its socket is the likeliest to be still open). */
  readonly idle: Client[] = [];
  readonly calls = new Set<{ abandon(reason: Abandoned): void }>();
  private readonly all: Client[] = [];

  constructor(
    readonly base: string,
    private readonly Client: typeof import('undici').Client,
    private readonly trust: PeerTrust | undefined,
  ) {}

  open(): Client {
    // An https:// peer's certificate is verified (undici's default) against `trust`, else the system's CAs.
    const connect = { timeout: 2_000, ...this.trust };
    const client = new this.Client(this.base, { pipelining: 1, keepAliveTimeout: 60_000, connect });
    this.all.push(client);
    return client;
  }

  abandonCalls(reason: Abandoned): void {
    for (const call of this.calls) call.abandon(reason);
  }

  async destroy(): Promise<void> {
    this.idle.length = 0;
    await Promise.all(this.all.map((client) => client.destroy()));
  }

  /** A connection that served one relayed tail: closed, not kept idle. */
  forget(client: Client): void {
    this.all.splice(this.all.indexOf(client), 1);
    void client.destroy();
  }
}

/** undici's handler for a relayed live tail: the owner's answer is written through as it arrives. */
class TailRelay implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private started = false;
  private done = false;

  constructor(
    private readonly peer: PeerConnections,
    private readonly client: Client,
    private readonly answer: ServerResponse,
    /** Called when the owner's answer starts, before it is written to `answer`. */
    private readonly begin: () => void,
    private readonly resolve: () => void,
    private readonly reject: (err: PeerUnreachable) => void,
  ) {
    peer.calls.add(this);
    answer.on('close', this.onReaderGone);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.done) controller.abort(new Error('client-hung-up'));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    const relayed: Record<string, string | string[]> = {};
    for (const name of RELAYED_HEADERS) if (headers[name] !== undefined) relayed[name] = headers[name];
    this.started = true;
    this.begin();
    this.answer.writeHead(statusCode, relayed);
    this.answer.flushHeaders();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // Read the owner's stream only as fast as the reader takes it.
    if (!this.answer.write(chunk)) {
      controller.pause();
      this.answer.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.finish();
    this.answer.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (!this.started && !this.answer.destroyed) {
      this.finish(new PeerUnreachable(this.peer.base, (err as { code?: string }).code ?? 'error', { cause: err }));
      return;
    }
    this.finish();
    // The tail broke off midway: the reader reconnects from its last id.
    this.answer.destroy();
  }

  abandon(reason: Abandoned): void {
    this.controller?.abort(new Error(reason));
    if (!this.started) this.finish(new PeerUnreachable(this.peer.base, reason, { cause: new Error(reason) }));
  }

  private readonly onReaderGone = (): void => {
    if (this.done) return;
    this.controller?.abort(new Error('client-hung-up'));
    this.finish();
  };

  private finish(err?: PeerUnreachable): void {
    if (this.done) return;
    this.done = true;
    this.peer.calls.delete(this);
    this.peer.forget(this.client);
    this.answer.removeListener('close', this.onReaderGone);
    if (err === undefined) this.resolve();
    else this.reject(err);
  }
}

/**
 * One call: undici's handler for its answer, and the promise the caller awaits. The promise settles at the
 * answer, the failure or the abandon, whichever comes first; the connection goes back to the idle list only
 * once undici has finished with the call.
 */
class PeerCall implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private contentType: string | undefined;
  private retryAfter: string | undefined;
  private body: Buffer | Buffer[] | undefined;
  private abandoned: Abandoned | undefined;
  private settled = false;

  constructor(
    private readonly peer: PeerConnections,
    private readonly client: Client,
    private readonly resolve: (response: PeerResponse) => void,
    private readonly reject: (err: PeerUnreachable) => void,
    private readonly answering: ServerResponse | undefined,
  ) {
    peer.calls.add(this);
    answering?.on('close', this.onClientClose);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Abandoned while it waited for its connection.
    if (this.abandoned !== undefined) controller.abort(new Error(this.abandoned));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.status = statusCode;
    const contentType = headers['content-type'];
    this.contentType = typeof contentType === 'string' ? contentType : undefined;
    const retryAfter = headers['retry-after'];
    this.retryAfter = typeof retryAfter === 'string' ? retryAfter : undefined;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.body === undefined) this.body = chunk;
    else if (Array.isArray(this.body)) this.body.push(chunk);
    else this.body = [this.body, chunk];
  }

  onResponseEnd(): void {
    this.release();
    const body = this.body === undefined ? EMPTY : Array.isArray(this.body) ? Buffer.concat(this.body) : this.body;
    this.settle(undefined, { status: this.status, contentType: this.contentType, retryAfter: this.retryAfter, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.release();
    this.settle(err);
  }

  /** Gives up on the call: it ends with PeerUnreachable(`reason`) now, and undici drops it (its connection too, if it was sent). */
  abandon(reason: Abandoned): void {
    if (this.settled) return;
    this.abandoned = reason;
    this.settle(new Error(reason));
    this.controller?.abort(new Error(reason));
  }

  private readonly onClientClose = (): void => {
    if (!this.answering!.writableFinished) this.abandon('client-hung-up');
  };

  private release(): void {
    this.peer.calls.delete(this);
    this.peer.idle.push(this.client);
  }

  private settle(err: Error | undefined, response?: PeerResponse): void {
    if (this.settled) return;
    this.settled = true;
    this.answering?.removeListener('close', this.onClientClose);
    if (err === undefined) this.resolve(response!);
    else
      this.reject(
        new PeerUnreachable(this.peer.base, this.abandoned ?? (err as { code?: string }).code ?? 'error', {
          cause: err,
        }),
      );
  }
}

const EMPTY = Buffer.alloc(0);

/** Internal calls sign their body; forwarded client requests do not (a client could send that body itself). */
function internalBody(request: Pick<PeerRequest, 'body' | 'contentType'>): string {
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
