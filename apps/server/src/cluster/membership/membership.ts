import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { NodeLifecycle } from '../../lifecycle/index.js';
import type { ClusterAuth } from '../auth.js';
import { Ring } from '../ring.js';
import { HomeMembers } from './home-members.js';
import { isMember } from './member-records.js';
import { Swim } from './swim.js';
import type { MemberAddress, MemberUpdate, MembershipEvent, SwimTiming } from './types.js';
import { UdpTransport } from './udp-transport.js';

/** How often the state machine's timers are checked; its timeouts are multiples of this. */
const TICK_MS = 25;
/** After announcing `left`, how long gossip keeps running so that the announcement is acknowledged. */
const LEAVE_LINGER_MS = 300;

export interface MembershipOptions {
  readonly cluster: string;
  readonly self: MemberAddress;
  readonly seeds: readonly string[];
  /** Where the gossip socket binds. */
  readonly bind: { readonly host: string; readonly port: number };
  readonly timing: Partial<SwimTiming>;
}

/** What the hand-off protocol needs to hear from membership. */
export interface MembershipListener {
  /** This node is part of a cluster now: take over the streams the ring gives it. */
  joined(): void;
  /** A member came (back): it may hold streams this node now owns. */
  appeared(member: MemberUpdate): void;
  /** Others had declared this node dead and took over its streams; it is alive again. */
  refuted(): void;
  ringChanged(ring: Ring): void;
}

export interface MemberView extends MemberUpdate {
  readonly self: boolean;
}

/**
 * Runs SWIM over UDP and keeps the ring of live members (this node included, unless it is leaving). Without
 * seeds there is no socket and no timer: the ring is this node alone and every stream is its own.
 */
export class Membership {
  private swim: Swim | undefined;
  private readonly transport: UdpTransport;
  private timer: NodeJS.Timeout | undefined;
  private currentRing: Ring;
  private readonly homeMembers: HomeMembers;
  private readonly rejectionsLogged = new Set<string>();
  /** Told of joins, (re)appearances and ring changes from `start()` on: the hand-off protocol. */
  private listener: MembershipListener | undefined;

  constructor(
    private readonly options: MembershipOptions,
    auth: ClusterAuth,
    private readonly lifecycle: NodeLifecycle,
    private readonly logger: Logger,
  ) {
    this.currentRing = new Ring([options.self], 1);
    this.homeMembers = new HomeMembers(options.self);
    this.transport = new UdpTransport(auth, {
      message: (from, message) => this.swim?.receive(performance.now(), from, message),
      rejected: (from, reason) => this.logRejection(from, reason),
      rejectedBy: (from, reason) =>
        this.swim?.receive(performance.now(), from, {
          type: 'refuse',
          cluster: '',
          from: '',
          reason: `our gossip was refused: ${reason}`,
        }),
    });
  }

  /** A node configured with seeds: gossip runs and streams are spread over the members. */
  get clustered(): boolean {
    return this.options.seeds.length > 0;
  }

  get self(): MemberAddress {
    return this.options.self;
  }

  get ring(): Ring {
    return this.currentRing;
  }

  /**
   * The ring of stream homes: every member this node has seen that has not left — down ones too, and kept after
   * gossip forgets them. With a node-local store a stream's stored messages live at its home, so a member going
   * down does not move them; only a join or a leave does (see docs/operations/cluster.md, "Node-local store").
   */
  get homes(): Ring {
    return this.homeMembers.ring;
  }

  /** Whether a member is down: a home (see `homes`) that is not in the ring of live members. */
  isDown(name: string): boolean {
    return this.currentRing.member(name) === undefined && !(this.leaving && name === this.options.self.name);
  }

  /** From SIGTERM on this node is out of its own ring: it owns nothing and forwards everything. */
  private get leaving(): boolean {
    return this.lifecycle.draining;
  }

  get joined(): boolean {
    return this.swim === undefined ? !this.clustered : this.swim.joined;
  }

  /** Why this node should not take traffic, for `/ready`: it has not joined (leaving is the lifecycle's `draining`). */
  get notReadyReason(): string | null {
    if (this.joined) return null;
    const refusal = this.swim?.refused;
    if (refusal !== undefined) return `refused by ${refusal.from}: ${refusal.reason}`;
    return 'joining the cluster';
  }

  /** Binds the gossip socket (fails fast if the port is taken); gossip starts with `start()`. */
  async bind(): Promise<void> {
    if (!this.clustered) return;
    await this.transport.bind(this.options.bind.host, this.options.bind.port);
  }

  /**
   * Contacts the seeds and starts failure detection, telling `listener` what happens from now on. Call once the
   * HTTP server accepts requests.
   */
  start(listener: MembershipListener): void {
    if (!this.clustered || this.swim !== undefined) return;
    this.listener = listener;
    const swim = new Swim(
      {
        cluster: this.options.cluster,
        self: this.options.self,
        seeds: this.options.seeds,
        timing: this.options.timing,
      },
      {
        send: (address, message) => this.transport.send(address, message),
        event: (event) => this.onEvent(event),
      },
    );
    this.swim = swim;
    swim.start(performance.now());
    this.timer = setInterval(() => swim.tick(performance.now()), TICK_MS);
    this.timer.unref();
  }

  /** This node as others should know it (its incarnation included). */
  selfUpdate(): MemberUpdate {
    return this.swim?.selfUpdate() ?? { ...this.options.self, state: 'alive', incarnation: 0 };
  }

  /** A member introduced itself over HTTP (it pulls or hands over streams). */
  learn(update: MemberUpdate): void {
    this.swim?.learn(performance.now(), update);
  }

  members(): MemberView[] {
    const members = this.swim?.members() ?? [this.selfUpdate()];
    return members.map((member) => ({ ...member, self: member.name === this.options.self.name }));
  }

  /** Takes this node out of its own ring, once its lifecycle is draining (see `leaving`). */
  beginLeave(): void {
    this.rebuildRing();
  }

  /** Announces the departure to every member, lets gossip acknowledge it, then stops. */
  async leave(): Promise<void> {
    this.beginLeave();
    if (this.swim === undefined) return;
    this.swim.leave(performance.now());
    await new Promise((resolve) => setTimeout(resolve, LEAVE_LINGER_MS));
    this.stop();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.transport.close();
  }

  private onEvent(event: MembershipEvent): void {
    switch (event.kind) {
      case 'joined':
        this.logger.info({ members: this.swim?.members().length }, 'joined the cluster');
        this.listener?.joined();
        return;
      case 'refused':
        this.logger.error({ seed: event.from, reason: event.reason }, 'a seed refused this node');
        return;
      case 'refuted':
        this.logger.warn({ claim: event.claim }, 'others had declared this node %s; refuted', event.claim);
        this.listener?.refuted();
        return;
      case 'member': {
        const { member, previous } = event;
        this.logger.info(
          { member: member.name, state: member.state, previous, incarnation: member.incarnation },
          'member %s is %s',
          member.name,
          member.state,
        );
        this.rebuildRing();
        const appeared = isMember(member.state) && (previous === undefined || !isMember(previous));
        if (appeared && this.joined) this.listener?.appeared(member);
      }
    }
  }

  private rebuildRing(): void {
    const known = this.swim?.members() ?? [this.selfUpdate()];
    // Before the live ring, so that a listener told of a ring change sees the homes of the same moment.
    this.homeMembers.update(known, this.leaving ? this.options.self.name : undefined);
    const members = known.filter(
      (member) => isMember(member.state) && !(this.leaving && member.name === this.options.self.name),
    );
    const current = this.currentRing;
    if (members.length === current.size && members.every((member) => current.member(member.name)?.http === member.http))
      return;
    this.currentRing = new Ring(members, current.version + 1);
    this.listener?.ringChanged(this.currentRing);
  }

  private logRejection(from: string, reason: string): void {
    const key = `${from} ${reason}`;
    if (this.rejectionsLogged.has(key)) return;
    if (this.rejectionsLogged.size > 1000) this.rejectionsLogged.clear();
    this.rejectionsLogged.add(key);
    this.logger.warn({ from, reason }, 'gossip datagram refused');
  }
}
