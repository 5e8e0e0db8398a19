import type { Pool } from 'undici';
import { AUTH_HEADER, HOP_HEADER, type ClusterAuth } from './auth.js';

/** Content type of node-to-node calls (hand-off, pulls); their routes parse it themselves, with their own limit. */
export const INTERNAL_CONTENT_TYPE = 'application/x-ipubsub-cluster+json';

export interface PeerRequest {
  readonly method: 'GET' | 'POST';
  /** Path and query. */
  readonly path: string;
  readonly hop: number;
  readonly body?: string;
  readonly contentType?: string;
  /** The caller's own controller (a client hang-up aborts it); this client also aborts it to abandon the call. */
  readonly controller?: AbortController;
  /** No answer by then: the peer is unreachable. */
  readonly timeoutMs: number;
}

export interface PeerResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: string;
}

/** Why this node gave up on its own calls in flight (the `code` of the PeerUnreachable they end with). */
export type Abandoned = 'shutting-down' | 'peer-left';

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

/**
 * HTTP to the other nodes: one keep-alive pool per node (unbounded, since every forwarded long poll holds a
 * connection), signed with the cluster secret. Calls in flight can all be aborted when this node shuts down.
 */
export class PeerClient {
  private readonly pools = new Map<string, Pool>();
  /** Calls in flight, by peer base URL. */
  private readonly inFlight = new Map<string, Set<AbortController>>();

  private constructor(
    private readonly auth: ClusterAuth,
    private readonly Pool: typeof import('undici').Pool | undefined,
  ) {}

  /** undici is imported only by a node in a cluster: a single node never calls another, and it costs memory. */
  static async create(auth: ClusterAuth, clustered: boolean): Promise<PeerClient> {
    return new PeerClient(auth, clustered ? (await import('undici')).Pool : undefined);
  }

  async request(base: string, request: PeerRequest): Promise<PeerResponse> {
    const headers: Record<string, string> = { [HOP_HEADER]: String(request.hop) };
    if (request.body !== undefined) headers['content-type'] = request.contentType ?? 'application/json';
    if (this.auth.enabled) {
      headers[AUTH_HEADER] = this.auth.signRequest(request.method, request.path, request.hop, internalBody(request));
    }
    const controller = request.controller ?? new AbortController();
    let calls = this.inFlight.get(base);
    if (calls === undefined) this.inFlight.set(base, (calls = new Set()));
    calls.add(controller);
    try {
      const response = await this.pool(base).request({
        method: request.method,
        path: request.path,
        headers,
        body: request.body,
        signal: controller.signal,
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
      });
      const body = await response.body.text();
      const contentType = response.headers['content-type'];
      return { status: response.statusCode, contentType: typeof contentType === 'string' ? contentType : undefined, body };
    } catch (err) {
      const code = controller.signal.aborted ? String(controller.signal.reason) : ((err as { code?: string }).code ?? 'error');
      throw new PeerUnreachable(base, code, { cause: err });
    } finally {
      calls.delete(controller);
    }
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
    if (response.status !== 200) throw new Error(`${path} at ${base} answered ${response.status}: ${response.body.slice(0, 200)}`);
    return JSON.parse(response.body) as T;
  }

  /** Aborts every call in flight (shutdown): forwarded long polls stop waiting on their owners. */
  abortAll(): void {
    for (const calls of this.inFlight.values()) for (const controller of calls) controller.abort('shutting-down' satisfies Abandoned);
  }

  /**
   * Gives up on calls to nodes that are no longer members (declared dead, or left): behind a partition their
   * connections may hang until the timeout, and the stream has a new owner by now. Their pools are closed.
   */
  retainOnly(bases: ReadonlySet<string>): void {
    for (const [base, calls] of this.inFlight) {
      if (bases.has(base)) continue;
      for (const controller of calls) controller.abort('peer-left' satisfies Abandoned);
      this.inFlight.delete(base);
    }
    for (const [base, pool] of this.pools) {
      if (bases.has(base)) continue;
      this.pools.delete(base);
      void pool.destroy();
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }

  private pool(base: string): Pool {
    let pool = this.pools.get(base);
    if (pool === undefined) {
      if (this.Pool === undefined) throw new Error('a single node has no peers to call');
      pool = new this.Pool(base, { connections: null, pipelining: 1, keepAliveTimeout: 60_000, connect: { timeout: 2_000 } });
      this.pools.set(base, pool);
    }
    return pool;
  }
}

/** Internal calls sign their body; forwarded client requests do not (a client could send that body itself). */
function internalBody(request: PeerRequest): string {
  return request.contentType === INTERNAL_CONTENT_TYPE ? request.body ?? '' : '';
}
