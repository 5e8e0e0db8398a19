/** What PeerClient's callers see: its requests, answers and errors (peer-client.ts re-exports them). */
import type { ServerResponse } from 'node:http';

/** Content type of node-to-node calls (hand-off, pulls); their routes parse it themselves, with their own limit. */
export const INTERNAL_CONTENT_TYPE = 'application/x-ipubsub-cluster+json';

export interface PeerRequest {
  readonly method: 'GET' | 'POST';
  /** Path and query. */
  readonly path: string;
  readonly hop: number;
  /** A forwarded client request's body as the client sent it, byte for byte; an internal call's JSON. */
  readonly body?: string | Buffer;
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
 * stream requests to them take this way, with the same hop count, grant and signature and the same outcomes as
 * over HTTP. `signature` is the AUTH_HEADER value ('' without a cluster secret).
 */
export interface SiblingRoutes {
  has(base: string): boolean;
  request(base: string, request: PeerRequest, signature: string): Promise<PeerResponse>;
  abandonAll(reason: Abandoned): void;
  /** Members not in `bases` left the ring: their calls end with `peer-left`. */
  retainOnly(bases: ReadonlySet<string>): void;
  close(): void;
}

/** Where a request's body goes, a chunk at a time, then its end. */
export interface BodySink {
  chunk(bytes: Buffer): void;
  end(): void;
}

/**
 * A request that hands its body to a sink rather than as stream events: node:http's requests on the node's
 * server (api/parser-body.ts) and those a sibling worker forwarded, whose body is whole already (workers/). The
 * data plane reads every body this way.
 */
export interface DirectBody {
  readBody(sink: BodySink): void;
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
