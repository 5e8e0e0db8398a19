import { InvalidToken, type Grant, type TokenVerifier } from './token-verifier.js';

export type StreamAction = 'send' | 'receive';

/** Why a request is refused: its wire code, a message, and the WWW-Authenticate challenge of a 401. */
export class Denial {
  constructor(
    readonly code: 'UNAUTHORIZED' | 'FORBIDDEN' | 'AUTH_UNAVAILABLE',
    readonly message: string,
    readonly challenge?: string,
  ) {}
}

/** Counts of each outcome (one addition each; see Metrics.authOutcome). */
export type AuthCounts = Record<'cached' | 'verified' | 'unauthorized' | 'forbidden', { inc(): void }>;

const REALM = 'Bearer realm="ipubsub"';
const NO_TOKEN = new Denial('UNAUTHORIZED', 'a bearer token is required (Authorization: Bearer <token>)', REALM);
const BEARER = /^bearer +/i;

/**
 * Decides, per request, what its `Authorization: Bearer` token allows. A verified token's grant is kept by the
 * header's exact text until the token expires, so a known token costs one Map lookup and a clock read: the
 * cache holds at most `cacheSize` tokens and drops the oldest entry first (no reordering on a hit, which would
 * cost a delete and an insert per request).
 */
export class Authenticator {
  private readonly grants = new Map<string, Grant>();

  constructor(
    private readonly verifier: TokenVerifier,
    private readonly cacheSize: number,
    private readonly counts: AuthCounts,
  ) {}

  get cachedTokens(): number {
    return this.grants.size;
  }

  /** undefined when the request may do `action` on the stream, else why not; a promise only when verifying. */
  authorize(
    authorization: string | undefined,
    action: StreamAction,
    streamId: string,
  ): Denial | undefined | Promise<Denial | undefined> {
    const grant = this.grantOf(authorization);
    if (grant instanceof Promise) return grant.then((verified) => this.permit(verified, action, streamId));
    return this.permit(grant, action, streamId);
  }

  /** The grant of an `Authorization` header: at once if cached, else once verified; a Denial without one. */
  grantOf(authorization: string | undefined): Grant | Denial | Promise<Grant | Denial> {
    if (authorization === undefined) {
      this.counts.unauthorized.inc();
      return NO_TOKEN;
    }
    const cached = this.grants.get(authorization);
    if (cached !== undefined) {
      if (cached.expiresAt > Date.now()) {
        this.counts.cached.inc();
        return cached;
      }
      this.grants.delete(authorization);
    }
    return this.verify(authorization);
  }

  private async verify(authorization: string): Promise<Grant | Denial> {
    const match = BEARER.exec(authorization);
    if (match === null) {
      this.counts.unauthorized.inc();
      return NO_TOKEN;
    }
    try {
      const grant = await this.verifier.verify(authorization.slice(match[0].length).trim());
      this.counts.verified.inc();
      this.remember(authorization, grant);
      return grant;
    } catch (err) {
      if (!(err instanceof InvalidToken))
        return new Denial('AUTH_UNAVAILABLE', (err as Error).message ?? 'token verification failed');
      this.counts.unauthorized.inc();
      const reason = err.message;
      return new Denial(
        'UNAUTHORIZED',
        `invalid token: ${reason}`,
        `${REALM}, error="invalid_token", error_description="${reason}"`,
      );
    }
  }

  private permit(grant: Grant | Denial, action: StreamAction, streamId: string): Denial | undefined {
    if (grant instanceof Denial) return grant;
    if (grant[action].allows(streamId)) return undefined;
    this.counts.forbidden.inc();
    return new Denial(
      'FORBIDDEN',
      `the token does not allow ${action} on stream ${streamId}`,
      `${REALM}, error="insufficient_scope"`,
    );
  }

  private remember(authorization: string, grant: Grant): void {
    if (this.cacheSize === 0) return;
    if (this.grants.size >= this.cacheSize) this.grants.delete(this.grants.keys().next().value!);
    this.grants.set(authorization, grant);
  }
}
