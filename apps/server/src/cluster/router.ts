import { DomainError } from '../domain-error.js';
import { AUTH_HEADER, forwardedGrant, GRANT_HEADER, HOP_HEADER, type ClusterAuth } from './auth.js';
import type { HandOff } from './handoff.js';
import type { Membership } from './membership/membership.js';
import type { Ring, RingMember } from './ring.js';
import type { StoredHomes } from './stored-homes.js';

/** Serve the request on this node. */
export const HERE = 'here';

/**
 * Where a stream request goes: `HERE`; the member that owns its stream (forward it there); a promise to wait
 * for before asking again (this node is still taking streams from their previous owners, or handing them to
 * the owner); or a refusal (OWNER_UNAVAILABLE). Only a wait or a refusal allocates anything.
 */
export type Placement = typeof HERE | RingMember | Promise<unknown> | DomainError;

/** A request may be forwarded, then re-routed once by a node with a newer ring; a third hop is refused. */
const MAX_HOPS = 2;

/** A request's headers as received (lower-case names): those of a forwarded one carry its signature and grant. */
export type ForwardedHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Decides which node serves each stream request: its stream's owner on the ring (or, for stored messages on a
 * node-local store, its home). It knows nothing of HTTP: the api layer forwards or answers what it decides.
 */
export class ClusterRouter {
  /** False on a single node: nothing is ever routed (no cost per request). */
  readonly active: boolean;
  private readonly self: string;

  constructor(
    private readonly membership: Membership,
    private readonly handOff: HandOff,
    private readonly homes: StoredHomes,
    private readonly auth: ClusterAuth,
    /**
     * `auth.mode: jwt`: this node checked the token of a request it forwards, and the owner serves a forwarded
     * request only if its signed GRANT_HEADER names the request's own action and stream.
     */
    private readonly grants: boolean,
  ) {
    this.active = membership.clustered;
    this.self = membership.self.name;
  }

  /** The ring this node routes by, as the ring-version header names it. */
  get ringFingerprint(): string {
    return this.membership.ring.fingerprint;
  }

  /** Stored requests are placed by their stream's home (a node-local store), not by its live owner. */
  get homesEnabled(): boolean {
    return this.homes.enabled;
  }

  /** This node has handed off and left: it only relays what clients still send it. */
  get left(): boolean {
    return this.handOff.left;
  }

  /** From SIGTERM on: this node keeps no long poll open. */
  get leaving(): boolean {
    return this.handOff.leavingCluster;
  }

  /** The common case on an owner, decided without allocating anything. */
  ownsNow(streamId: string): boolean {
    return this.handOff.open && this.membership.ring.owner(streamId)?.name === this.self;
  }

  /** The member that owns a stream (`atHome`: that keeps its stored messages) on this node's ring. */
  ownerOf(streamId: string, atHome: boolean): RingMember | undefined {
    return this.ringOf(atHome).owner(streamId);
  }

  place(streamId: string, atHome: boolean, hop: number): Placement {
    const owner = this.ringOf(atHome).owner(streamId);
    // No owner at all: the last node is leaving; it answers as a draining node does.
    if (owner === undefined) return HERE;
    if (atHome && this.membership.isDown(owner.name))
      return new DomainError(
        'OWNER_UNAVAILABLE',
        `stored messages of stream ${streamId} are kept by ${owner.name} (node-local store), which is down; retry once it is back`,
      );
    if (owner.name === this.self) {
      // Streams are still arriving from their previous owners: serve this one behind them.
      if (!this.handOff.open) return this.handOff.whenOpen();
      const problem = atHome ? this.homes.notServable(streamId) : null;
      return problem === null ? HERE : new DomainError('OWNER_UNAVAILABLE', problem);
    }
    if (hop >= MAX_HOPS)
      return new DomainError(
        'OWNER_UNAVAILABLE',
        `the owner of stream ${streamId} moved while the request was forwarded; retry`,
      );
    return this.handOff.handingTo(owner.name) ?? owner;
  }

  /** The grant a forwarded request carries to its owner (with `auth.mode: jwt`), else undefined. */
  grantFor(method: string, streamId: string): string | undefined {
    return this.grants ? forwardedGrant(method, streamId) : undefined;
  }

  /**
   * Why a request that claims to come from another member (`hop` > 0) may not be served, or null: its
   * signature, and with `auth.mode: jwt` the grant naming its own action and stream.
   */
  refuseForwarded(
    method: string,
    url: string,
    hop: number,
    streamId: string,
    headers: ForwardedHeaders,
  ): string | null {
    if (!Number.isInteger(hop) || hop < 0) return `bad ${HOP_HEADER} header`;
    const grant = headers[GRANT_HEADER];
    if (this.grants) {
      // Without a secret anyone could claim a member's decision (start-up refuses that configuration).
      if (!this.auth.enabled) return 'auth.mode jwt needs cluster.secret to trust forwarded requests';
      if (grant !== forwardedGrant(method, streamId))
        return `${GRANT_HEADER} does not name this request's action and stream`;
    }
    if (!this.auth.enabled) return null;
    const signedGrant = typeof grant === 'string' ? grant : '';
    return this.auth.verifyRequest(headers[AUTH_HEADER], method, url, hop, '', Date.now(), signedGrant);
  }

  private ringOf(atHome: boolean): Ring {
    return atHome ? this.membership.homes : this.membership.ring;
  }
}
