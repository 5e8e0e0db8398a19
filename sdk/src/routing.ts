import { Deadline, type Scope } from './deadline.js';
import { Rendezvous, RING_HASH, RING_VERSION_HEADER } from './ring.js';
import { withToken } from './token.js';
import type { TokenSource } from './types.js';
import type { ClusterRouting } from './wire-types.generated.js';

const STREAMS_PATH = '/api/v1/streams/';
/** Least time between two ring loads: nodes that disagree for a moment (a member joining) cost one load a second. */
const RELOAD_INTERVAL_MS = 1000;
/** Longest wait before routing directly again after members kept not answering (unreachable from this client). */
const MAX_HOLD_MS = 60_000;

/** A member of the ring, with the streams API URL of its advertised base URL. */
interface Member {
  readonly name: string;
  readonly url: string;
}

export interface RouterOptions {
  /** The server the client was given (any node, or a proxy): where the ring is learnt and requests go without one. */
  readonly baseUrl: string;
  /** `direct`: each request to its stream's owner; `any`: every request to `baseUrl`, whose node forwards it. */
  readonly routing: 'direct' | 'any';
  readonly fetch: typeof fetch;
  readonly headers: Record<string, string>;
  /** The cluster API wants a token too, with `auth.mode: jwt`. */
  readonly token: TokenSource | undefined;
  readonly scope: Scope;
  readonly timeoutMs: number;
}

/**
 * Where each request goes. With direct routing, an answer carrying a ring version other than the one held (the
 * first answer of a cluster node) makes it load the ring from `GET /api/v1/cluster`; it then sends a stream's
 * requests to its owner (computed as the server does, `Rendezvous`), so a cluster serves them without a
 * forwarding hop. Until it has a ring, and whenever a member does not answer, requests go to the base URL, whose
 * node forwards them. A single node sends no ring version, so its clients never ask; a proxy hiding the cluster
 * API or an unknown owner function leave them routing through the base URL.
 */
export class Router {
  readonly baseStreamsUrl: string;
  /** null: route through the base URL (no ring yet, one member, or no usable ring). */
  private ring: Rendezvous<Member> | null = null;
  private version: string | null = null;
  private loading = false;
  private loadedAt = -Infinity;
  /** Members that did not answer, one after another with no direct answer between: each doubles the hold. */
  private failures = 0;
  /** No ring is loaded before then (`Date.now()` clock). */
  private heldUntil = 0;

  constructor(private readonly options: RouterOptions) {
    this.baseStreamsUrl = `${options.baseUrl}${STREAMS_PATH}`;
  }

  /** The streams API URL for a request on this stream. */
  urlFor(streamId: string): string {
    return this.ring?.owner(streamId)!.url ?? this.baseStreamsUrl;
  }

  /** An answer from `url`; its ring version, if another than the one held, means the ring changed. */
  observe(url: string, response: Response): void {
    if (this.options.routing === 'any') return;
    if (url !== this.baseStreamsUrl) this.failures = 0;
    const version = response.headers.get(RING_VERSION_HEADER);
    if (version !== null && version !== this.version) this.reload();
  }

  /**
   * A member did not answer: route through the base URL until the ring is loaded again, at the next answer after
   * a hold of 1 s, doubling up to a minute while members keep not answering (the client cannot reach their
   * advertised URLs: a load balancer in front of the cluster, where `routing: 'any'` is the setting to use).
   */
  unreachable(url: string): void {
    // Calls in flight to members of a ring already let go are the same failure, not more of them.
    if (this.options.routing === 'any' || url === this.baseStreamsUrl || this.ring === null) return;
    this.ring = null;
    this.version = null;
    this.heldUntil = Date.now() + Math.min(MAX_HOLD_MS, RELOAD_INTERVAL_MS * 2 ** this.failures++);
  }

  private reload(): void {
    const now = Date.now();
    if (this.loading || now < this.heldUntil || now - this.loadedAt < RELOAD_INTERVAL_MS) return;
    if (this.options.scope.closed.aborted) return;
    this.loading = true;
    this.loadedAt = now;
    void this.load().finally(() => (this.loading = false));
  }

  private async load(): Promise<void> {
    const { baseUrl, fetch: get, token, scope, timeoutMs } = this.options;
    const deadline = new Deadline([], scope, timeoutMs, 'GET /api/v1/cluster');
    try {
      const headers = token === undefined ? this.options.headers : await withToken(this.options.headers, token, false);
      const response = await get(`${baseUrl}/api/v1/cluster`, { headers, signal: deadline.signal });
      const routing = response.ok ? ((await response.json()) as { routing?: ClusterRouting }).routing : undefined;
      this.ring = null;
      // An older server, or one hashing otherwise: its nodes forward, so the base URL still reaches every stream.
      if (routing?.hash !== RING_HASH) return;
      this.version = routing.version;
      if (routing.members.length > 1)
        this.ring = new Rendezvous(
          routing.members.map((member) => ({ name: member.name, url: member.url.replace(/\/+$/, '') + STREAMS_PATH })),
        );
    } catch {
      // No answer: the base URL serves meanwhile; the next answer with a ring version tries again.
      this.ring = null;
    } finally {
      deadline.release();
    }
  }
}
