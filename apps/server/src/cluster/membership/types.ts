import type { NodeWire } from '@ipubsub/sdk/wire';

/**
 * What a member is believed to be. `suspect` still counts as a member (it owns its streams) until the suspicion
 * times out; `left` is a graceful `dead` announced by the member itself.
 */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** How other nodes reach a member: its name (unique in the cluster), gossip address and HTTP base URL. */
export interface MemberAddress {
  readonly name: string;
  /** `host:port` of its gossip (UDP) socket. */
  readonly gossip: string;
  /** Base URL of its HTTP API, e.g. `http://127.0.0.1:8801`. */
  readonly http: string;
}

/** A gossiped fact about one member; a higher incarnation (set only by the member itself) wins. */
export interface MemberUpdate extends MemberAddress {
  readonly state: MemberState;
  readonly incarnation: number;
}

/** The gossip protocol's messages (their schema: `NodeWire.GossipMessageSchema`, checked on every datagram). */
export type SwimMessage = NodeWire.GossipMessage;

export type MembershipEvent =
  /** Another member changed state (or was seen for the first time: `previous` undefined). */
  | { readonly kind: 'member'; readonly member: MemberUpdate; readonly previous: MemberState | undefined }
  /** This node is part of a cluster: a seed answered, another node joined it, or no seed answered in time. */
  | { readonly kind: 'joined' }
  /** A seed belongs to another cluster. */
  | { readonly kind: 'refused'; readonly from: string; readonly reason: string }
  /** Others had declared this node dead (or left); it refuted with a higher incarnation. */
  | { readonly kind: 'refuted'; readonly claim: MemberState };

export interface SwimTiming {
  /** One probe per period, round-robin over the members. */
  readonly protocolPeriodMs: number;
  /** No direct ack within this time: ask `indirectProbes` other members to probe. */
  readonly probeTimeoutMs: number;
  readonly indirectProbes: number;
  /** Suspicion lasts `suspicionMultiplier × max(1, log10 n) × protocolPeriodMs` before the member is dead. */
  readonly suspicionMultiplier: number;
  /** Each update is piggybacked `retransmitMultiplier × ceil(log10(n + 1))` times. */
  readonly retransmitMultiplier: number;
  readonly maxPiggyback: number;
  /** Full-state exchange with a random live member and a random dead one (heals partitions). */
  readonly syncIntervalMs: number;
  /** No seed answered within this time: this node starts a cluster of its own. */
  readonly joinTimeoutMs: number;
  /** Dead and left members are remembered (and re-contacted) this long, then forgotten. */
  readonly deadRetentionMs: number;
}

export const DEFAULT_TIMING: SwimTiming = {
  protocolPeriodMs: 500,
  probeTimeoutMs: 200,
  indirectProbes: 3,
  suspicionMultiplier: 3,
  retransmitMultiplier: 4,
  maxPiggyback: 16,
  syncIntervalMs: 2_000,
  joinTimeoutMs: 1_000,
  deadRetentionMs: 10 * 60_000,
};

/** Where the state machine's effects go: datagrams out, membership events up. */
export interface SwimIo {
  send(address: string, message: SwimMessage): void;
  event(event: MembershipEvent): void;
}

export interface SwimOptions {
  readonly cluster: string;
  readonly self: MemberAddress;
  /** Gossip addresses to join through; this node's own address may be among them. */
  readonly seeds: readonly string[];
  readonly timing?: Partial<SwimTiming>;
  /** Source of randomness for probe order and gossip targets (seeded in tests). */
  readonly random?: () => number;
}
