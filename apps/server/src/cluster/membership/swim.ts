import { BroadcastQueue } from './broadcast-queue.js';
import {
  clusterSize,
  isMember,
  pickAtRandom,
  shuffle,
  supersedes,
  toUpdate,
  type MemberRecord,
} from './member-records.js';
import {
  DEFAULT_TIMING,
  type MemberUpdate,
  type SwimIo,
  type SwimMessage,
  type SwimOptions,
  type SwimTiming,
} from './types.js';

interface Probe {
  readonly target: MemberRecord;
  readonly seq: number;
  sentAt: number;
  indirectSent: boolean;
  acked: boolean;
}

interface Relay {
  readonly requester: string;
  readonly seq: number;
  readonly expiresAt: number;
}

/**
 * SWIM membership (Das, Gupta, Motivala 2002) as a pure state machine: no sockets, no timers, no clock. The
 * runtime feeds it datagrams (`receive`) and the time (`tick`); it answers through `SwimIo`.
 *
 * - Failure detection: each protocol period one member is pinged (round-robin over a shuffled order); without an
 *   ack within the probe timeout, `indirectProbes` other members ping it on our behalf; no ack by the end of the
 *   period makes it `suspect`, and a suspicion not refuted in time makes it `dead`.
 * - Dissemination: every state change is piggybacked on pings and acks a bounded number of times.
 * - Incarnation numbers: only a member raises its own; it refutes a suspicion (or a death, or a stale `left`)
 *   by announcing itself alive with a higher one. Among conflicting facts the higher incarnation wins, and at
 *   equal incarnation `suspect` beats `alive`, `dead`/`left` beat both.
 * - Full-state syncs join the cluster through seeds, repair what piggybacking missed, and re-contact dead
 *   members so that a healed partition merges again.
 */
export class Swim {
  private readonly timing: SwimTiming;
  private readonly random: () => number;
  private readonly seeds: string[];
  private readonly self: MemberRecord;
  private readonly envelope: { readonly cluster: string; readonly from: string };
  private readonly others = new Map<string, MemberRecord>();
  private readonly broadcasts = new BroadcastQueue();
  private readonly relays = new Map<number, Relay>();
  private probeOrder: MemberRecord[] = [];
  private probeIndex = 0;
  private probe: Probe | null = null;
  private seq = 0;
  private started = false;
  private joinedCluster = false;
  private refusal: { from: string; reason: string } | undefined;
  private lastTick = 0;
  private nextPeriodAt = 0;
  private nextSyncAt = 0;
  private joinDeadline = 0;

  constructor(
    private readonly options: SwimOptions,
    private readonly io: SwimIo,
  ) {
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.random = options.random ?? Math.random;
    this.seeds = options.seeds.filter((seed) => seed !== options.self.gossip);
    this.self = { ...options.self, state: 'alive', incarnation: 0, since: 0, suspectDeadline: 0 };
    this.envelope = { cluster: options.cluster, from: options.self.name };
  }

  /** Part of a cluster: a sync was exchanged, or no seed answered in time (this node is the first). */
  get joined(): boolean {
    return this.joinedCluster;
  }

  /** Why no seed let this node in, while it has not joined. */
  get refused(): { from: string; reason: string } | undefined {
    return this.joinedCluster ? undefined : this.refusal;
  }

  get incarnation(): number {
    return this.self.incarnation;
  }

  /** Every known member, this node first. */
  members(): MemberUpdate[] {
    const all: MemberUpdate[] = [toUpdate(this.self)];
    for (const member of this.others.values()) all.push(toUpdate(member));
    return all;
  }

  /** This node as the others should see it. */
  selfUpdate(): MemberUpdate {
    return toUpdate(this.self);
  }

  start(now: number): void {
    this.started = true;
    this.self.since = now;
    this.lastTick = now;
    this.nextPeriodAt = now + this.timing.protocolPeriodMs;
    this.nextSyncAt = now + this.timing.syncIntervalMs;
    this.joinDeadline = now + this.timing.joinTimeoutMs;
    if (this.seeds.length === 0) this.markJoined();
    else this.syncWith(this.seeds);
  }

  /** Advances timers: suspicion, probe timeouts, the protocol period, syncs, joining. */
  tick(now: number): void {
    if (!this.started) return;
    const paused = now - this.lastTick;
    this.lastTick = now;
    if (paused > this.timing.probeTimeoutMs) {
      // This process stood still (GC, a long task): acks may be waiting unread in the socket. Our own timers
      // move by the pause instead of firing, so a stall here never makes others look dead.
      this.postpone(paused);
      return;
    }
    for (const member of this.others.values()) {
      if (member.state === 'suspect' && now >= member.suspectDeadline) {
        this.apply(now, { ...toUpdate(member), state: 'dead' });
      } else if (
        (member.state === 'dead' || member.state === 'left') &&
        now - member.since >= this.timing.deadRetentionMs
      ) {
        this.others.delete(member.name);
      }
    }
    const probe = this.probe;
    if (probe !== null && !probe.acked && !probe.indirectSent && now - probe.sentAt >= this.timing.probeTimeoutMs) {
      probe.indirectSent = true;
      this.probeIndirectly(probe);
    }
    if (now >= this.nextPeriodAt) {
      this.endPeriod(now);
      this.nextPeriodAt = now + this.timing.protocolPeriodMs;
      if (!this.joinedCluster) this.syncWith(this.seeds);
    }
    for (const [seq, relay] of this.relays) if (now >= relay.expiresAt) this.relays.delete(seq);
    if (!this.joinedCluster && this.refusal === undefined && now >= this.joinDeadline) this.markJoined();
    if (now >= this.nextSyncAt) {
      this.nextSyncAt = now + this.timing.syncIntervalMs;
      this.antiEntropy();
    }
  }

  receive(now: number, from: string, message: SwimMessage): void {
    if (!this.started || message.from === this.self.name) return;
    if (message.type === 'refuse') {
      if (!this.joinedCluster && this.refusal === undefined) {
        this.refusal = { from, reason: message.reason };
        this.io.event({ kind: 'refused', from, reason: message.reason });
      }
      return;
    }
    if (message.cluster !== this.options.cluster) {
      if (message.type === 'sync' && message.wantReply) {
        this.io.send(from, {
          type: 'refuse',
          ...this.envelope,
          reason: `node ${this.self.name} belongs to cluster "${this.options.cluster}", not "${message.cluster}"`,
        });
      }
      return;
    }
    switch (message.type) {
      case 'ping':
        this.applyAll(now, message.updates);
        this.io.send(from, {
          type: 'ack',
          ...this.envelope,
          seq: message.seq,
          updates: this.piggyback(this.others.get(message.from)),
        });
        return;
      case 'ack': {
        this.applyAll(now, message.updates);
        if (this.probe !== null && this.probe.seq === message.seq) {
          this.probe.acked = true;
          return;
        }
        const relay = this.relays.get(message.seq);
        if (relay === undefined) return;
        this.relays.delete(message.seq);
        this.io.send(relay.requester, { type: 'ack', ...this.envelope, seq: relay.seq, updates: this.piggyback() });
        return;
      }
      case 'ping-req': {
        this.applyAll(now, message.updates);
        const seq = ++this.seq;
        this.relays.set(seq, { requester: from, seq: message.seq, expiresAt: now + this.timing.protocolPeriodMs });
        this.io.send(message.targetAddress, { type: 'ping', ...this.envelope, seq, updates: this.piggyback() });
        return;
      }
      case 'sync':
        this.applyAll(now, message.members);
        if (message.wantReply) {
          this.io.send(from, { type: 'sync', ...this.envelope, members: this.members(), wantReply: false });
        }
        this.markJoined();
        return;
    }
  }

  /** Applies a fact learnt outside gossip (a member calling over HTTP says who it is). */
  learn(now: number, update: MemberUpdate): void {
    if (this.started) this.apply(now, update);
  }

  /** Announces a graceful departure to every live member at once, and through gossip. */
  leave(now: number): void {
    this.self.state = 'left';
    this.self.since = now;
    this.announce(toUpdate(this.self));
  }

  /** Queues an update for gossip and also sends it straight to every member. */
  private announce(update: MemberUpdate): void {
    this.broadcasts.enqueue(update);
    for (const member of this.others.values()) {
      if (isMember(member.state))
        this.io.send(member.gossip, { type: 'ping', ...this.envelope, seq: ++this.seq, updates: [update] });
    }
  }

  private postpone(ms: number): void {
    this.nextPeriodAt += ms;
    this.nextSyncAt += ms;
    this.joinDeadline += ms;
    if (this.probe !== null) this.probe.sentAt += ms;
    for (const member of this.others.values()) if (member.state === 'suspect') member.suspectDeadline += ms;
  }

  private endPeriod(now: number): void {
    const probe = this.probe;
    if (
      probe !== null &&
      !probe.acked &&
      probe.target.state === 'alive' &&
      this.others.get(probe.target.name) === probe.target
    ) {
      const suspicion: MemberUpdate = { ...toUpdate(probe.target), state: 'suspect' };
      this.apply(now, suspicion);
      // Tell the suspect itself straight away: if it is only slow, it refutes long before the timeout.
      this.io.send(probe.target.gossip, { type: 'ping', ...this.envelope, seq: ++this.seq, updates: [suspicion] });
    }
    this.probe = null;
    if (this.self.state === 'left') return;
    const target = this.nextProbeTarget();
    if (target === undefined) return;
    const seq = ++this.seq;
    this.probe = { target, seq, sentAt: now, indirectSent: false, acked: false };
    this.io.send(target.gossip, { type: 'ping', ...this.envelope, seq, updates: this.piggyback(target) });
  }

  private probeIndirectly(probe: Probe): void {
    const helpers = pickAtRandom(
      this.others.values(),
      this.random,
      (member) => member !== probe.target && member.state === 'alive',
      this.timing.indirectProbes,
    );
    for (const helper of helpers) {
      this.io.send(helper.gossip, {
        type: 'ping-req',
        ...this.envelope,
        seq: probe.seq,
        target: probe.target.name,
        targetAddress: probe.target.gossip,
        updates: this.piggyback(),
      });
    }
  }

  private nextProbeTarget(): MemberRecord | undefined {
    for (let pass = 0; pass < 2; pass++) {
      while (this.probeIndex < this.probeOrder.length) {
        const candidate = this.probeOrder[this.probeIndex++];
        if (isMember(candidate.state) && this.others.get(candidate.name) === candidate) return candidate;
      }
      this.probeOrder = shuffle(
        this.random,
        [...this.others.values()].filter((member) => isMember(member.state)),
      );
      this.probeIndex = 0;
    }
    return undefined;
  }

  /** Exchanges full state with one live member, and with one dead member (or the seeds, when alone). */
  private antiEntropy(): void {
    const live = pickAtRandom(this.others.values(), this.random, (member) => isMember(member.state), 1);
    if (live.length === 0) this.syncWith(this.seeds);
    else this.syncWith([live[0].gossip]);
    const dead = pickAtRandom(this.others.values(), this.random, (member) => member.state === 'dead', 1);
    if (dead.length > 0) this.syncWith([dead[0].gossip]);
  }

  private syncWith(addresses: readonly string[]): void {
    if (addresses.length === 0) return;
    const members = this.members();
    for (const address of addresses) {
      this.io.send(address, { type: 'sync', ...this.envelope, members, wantReply: true });
    }
  }

  private markJoined(): void {
    if (this.joinedCluster) return;
    this.joinedCluster = true;
    this.io.event({ kind: 'joined' });
  }

  private applyAll(now: number, updates: readonly MemberUpdate[]): void {
    for (const update of updates) this.apply(now, update);
  }

  private apply(now: number, update: MemberUpdate): void {
    if (update.name === this.self.name) {
      this.refute(update);
      return;
    }
    const current = this.others.get(update.name);
    if (current === undefined) {
      // A death of a member never heard of has nothing to remove.
      if (!isMember(update.state)) return;
      const record: MemberRecord = { ...update, since: now, suspectDeadline: 0 };
      if (update.state === 'suspect') record.suspectDeadline = now + this.suspicionTimeout();
      this.others.set(update.name, record);
      this.broadcasts.enqueue(toUpdate(record));
      this.io.event({ kind: 'member', member: toUpdate(record), previous: undefined });
      return;
    }
    if (!supersedes(update, current)) return;
    const previous = current.state;
    const moved = update.state === 'alive' && (current.gossip !== update.gossip || current.http !== update.http);
    current.incarnation = update.incarnation;
    if (update.state === 'alive') {
      current.gossip = update.gossip;
      current.http = update.http;
    }
    if (previous !== update.state) {
      current.state = update.state;
      current.since = now;
      if (update.state === 'suspect') current.suspectDeadline = now + this.suspicionTimeout();
    }
    this.broadcasts.enqueue(toUpdate(current));
    if (previous !== update.state || moved) this.io.event({ kind: 'member', member: toUpdate(current), previous });
  }

  /** A fact about this node that others may believe: contradict it with a higher incarnation. */
  private refute(update: MemberUpdate): void {
    if (this.self.state === 'left') return;
    // An `alive` at our incarnation but another address is an earlier process of ours (restarted elsewhere).
    const stale =
      update.state === 'alive'
        ? update.incarnation < this.self.incarnation ||
          (update.incarnation === this.self.incarnation &&
            update.gossip === this.self.gossip &&
            update.http === this.self.http)
        : update.incarnation < this.self.incarnation;
    if (stale) return;
    this.self.incarnation = update.incarnation + 1;
    // Told at once to everyone, not only by gossip: the suspicion timers are already running.
    this.announce(toUpdate(this.self));
    if (update.state === 'dead' || update.state === 'left') this.io.event({ kind: 'refuted', claim: update.state });
  }

  private suspicionTimeout(): number {
    const n = clusterSize(this.others.values());
    return this.timing.suspicionMultiplier * Math.max(1, Math.log10(n)) * this.timing.protocolPeriodMs;
  }

  /**
   * Updates for an outgoing message. A recipient we believe suspect or dead is told so directly, whatever the
   * queue holds, so that it can refute even after the gossip about it has been spent on lost datagrams.
   */
  private piggyback(recipient?: MemberRecord): MemberUpdate[] {
    const n = clusterSize(this.others.values());
    const limit = this.timing.retransmitMultiplier * Math.ceil(Math.log10(n + 1));
    const updates = this.broadcasts.take(this.timing.maxPiggyback, limit);
    if (recipient !== undefined && recipient.state !== 'alive') updates.push(toUpdate(recipient));
    return updates;
  }
}
