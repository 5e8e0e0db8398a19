import { NodeWire } from '@ipubsub/sdk/wire';
import type { Logger } from 'pino';
import type { NodeLifecycle } from '../lifecycle/index.js';
import type { StoredStreams } from '../store/index.js';
import {
  MemoryFullError,
  measuredBytes,
  type StreamEngine,
  type StreamMessage,
  type StreamSnapshot,
} from '../streams/index.js';
import type { Membership, MembershipListener } from './membership/membership.js';
import type { MemberUpdate } from './membership/types.js';
import { PeerRefused, type PeerClient } from './peer-client.js';
import type { Ring, RingMember } from './ring.js';
import type { StoredHomes } from './stored-homes.js';

/** How long a node waits for another to hand over its streams before serving without them. */
const PULL_TIMEOUT_MS = 10_000;
/** A ring change moves strays (streams held here but owned elsewhere) this long after it, once pulls are done. */
const REBALANCE_DELAY_MS = 1_000;
/** Longest one hand-off request may take. */
const HANDOFF_TIMEOUT_MS = 10_000;
/** After a failed transfer, when the streams kept are offered again. */
const RETRY_DELAY_MS = 5_000;
/** A leaving node whose next owner has no memory for its streams offers them there again this often. */
const MEMORY_FULL_RETRY_MS = 1_000;
/** Serialized size at which a hand-off is split into several requests. */
export const CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Moves in-memory streams between nodes when the ring changes, so that no buffered message is lost and none
 * overtakes an older one. The protocol (docs/operations/cluster.md, "Hand-off"):
 *
 * - Joining: once a node has joined, and whenever a member (re)appears or this node refutes its own death, it
 *   *pulls* from the members concerned: each detaches the streams the puller now owns and pushes them to it.
 *   Until every pull has finished (or timed out) the puller serves none of the streams it owns; requests for
 *   them wait (`gate`). A pulled node forwards new requests for the detached streams to the puller, where
 *   they wait behind the snapshots.
 * - Leaving (SIGTERM): the node drops itself from its own ring, detaches every stream and pushes each to its
 *   next owner; requests that reach it meanwhile wait until their new owner has acknowledged, then go there.
 *   The last request to each member also tells it that this node has left, so it owns those streams from
 *   that instant on.
 * - Strays: a stream held by a node that does not own it (a failed transfer, concurrent ring changes) is
 *   pushed to its owner shortly after the next ring change, behind what the owner holds.
 * - Stored streams: on a shared store they have nothing to move (the rows are in the database); on a node-local
 *   one their messages follow their home (StoredHomes): pulled with the in-memory streams, handed over before
 *   them on leaving. Their long polls wait here to be woken by this node's writes: when a stream stops being
 *   this node's, its waiting stored readers are let go (the router sends them on to the new owner). A leaving
 *   node lets them go once every member has learnt that it left, so that a node which forwarded one of them
 *   re-routes it to the right owner.
 */
export class HandOff implements MembershipListener {
  private pendingPulls = 0;
  private gateWaiters: (() => void)[] = [];
  private readonly outgoing = new Map<string, Promise<unknown>>();
  private rebalanceTimer: NodeJS.Timeout | undefined;
  private hasLeft = false;

  constructor(
    private readonly engine: StreamEngine,
    private readonly stored: Pick<StoredStreams, 'releaseMovedReaders'>,
    private readonly membership: Membership,
    private readonly peers: PeerClient,
    private readonly homes: StoredHomes,
    private readonly lifecycle: NodeLifecycle,
    private readonly logger: Logger,
    private readonly onMoved: (direction: 'in' | 'out', messages: number) => void = () => undefined,
  ) {}

  /** From SIGTERM on (the node draining): this node hands off what it holds and keeps no long poll open. */
  private get leaving(): boolean {
    return this.lifecycle.draining;
  }

  get leavingCluster(): boolean {
    return this.leaving;
  }

  /** Handed off and left: this node only relays what clients still send it until it exits. */
  get left(): boolean {
    return this.hasLeft;
  }

  /** Whether this node may serve the streams it owns right now. */
  get open(): boolean {
    return this.pendingPulls === 0 && this.membership.joined;
  }

  /** Resolves when the gate opens (a pull can take at most PULL_TIMEOUT_MS). */
  whenOpen(): Promise<void> {
    if (this.open) return Promise.resolve();
    return new Promise((resolve) => this.gateWaiters.push(resolve));
  }

  /** While this node hands its streams to `member`, requests bound there wait for this. */
  handingTo(member: string): Promise<unknown> | undefined {
    return this.outgoing.get(member);
  }

  joined(): void {
    this.homes.forget();
    for (const member of this.membership.ring.names) if (member !== this.membership.self.name) this.pull(member);
    this.releaseGate();
  }

  appeared(member: MemberUpdate): void {
    this.homes.forget(member.name);
    this.pull(member.name);
  }

  refuted(): void {
    this.homes.forget();
    for (const member of this.membership.ring.names) if (member !== this.membership.self.name) this.pull(member);
  }

  ringChanged(ring: Ring): void {
    this.logger.info({ ringVersion: ring.version, members: ring.names }, 'ring changed');
    this.peers.retainOnly(new Set(ring.names.map((name) => ring.member(name)!.http)));
    if (this.leaving) return;
    this.releaseStoredReaders();
    this.scheduleRebalance(REBALANCE_DELAY_MS);
  }

  /** Stored readers waiting here on streams another member owns now are let go (see the class comment). */
  private releaseStoredReaders(): void {
    const released = this.stored.releaseMovedReaders(this.ownedElsewhere);
    if (released > 0) this.logger.info({ readers: released }, 'stored long polls of streams that moved let go');
  }

  /** Read at each call: the current ring of stored streams. No owner at all (the last member leaving) is not a move. */
  private readonly ownedElsewhere = (streamId: string): boolean => {
    const owner = this.homes.storedRing().owner(streamId);
    return owner !== undefined && owner.name !== this.membership.self.name;
  };

  private scheduleRebalance(delayMs: number): void {
    clearTimeout(this.rebalanceTimer);
    this.rebalanceTimer = setTimeout(() => void this.rebalance(), delayMs);
    this.rebalanceTimer.unref();
  }

  /** Another node pulls: it is alive; push it the streams it owns that this node holds. */
  async servePull(request: NodeWire.PullRequest): Promise<NodeWire.PullAnswer> {
    if (this.leaving) return { streams: 0, messages: 0 };
    this.membership.learn(request.member);
    const owner = this.membership.ring.member(request.member.name);
    if (owner === undefined) return { streams: 0, messages: 0 };
    const snapshots = this.engine.detach((streamId) => this.membership.ring.owner(streamId)?.name === owner.name);
    if (!(await this.push(owner, snapshots, undefined))) throw new Error(`could not hand streams to ${owner.name}`);
    return { streams: snapshots.length, messages: countMessages(snapshots) };
  }

  /**
   * Streams handed over by another node; they go behind anything this node already holds for them. Refused
   * whole if their messages do not fit the memory budget: the sender keeps them and tries again later.
   */
  serveAdopt(request: NodeWire.AdoptRequest): void {
    // Streams adopted now would not be handed off again: the sender tries the next owner instead.
    if (this.leaving) throw new Error(`${this.membership.self.name} is leaving the cluster`);
    const snapshots = request.snapshots.map(sized);
    let bytes = 0;
    for (const snapshot of snapshots) for (const message of snapshot.messages) bytes += message.bytes;
    if (!this.engine.budget.tryAcquire(bytes))
      throw new MemoryFullError(`no room for ${bytes} bytes of handed-over messages (limits.maxBufferedBytes)`);
    this.engine.budget.release(bytes); // adopting counts each message it keeps
    for (const snapshot of snapshots) this.engine.adopt(snapshot);
    this.onMoved('in', countMessages(snapshots));
    if (request.leaving !== undefined) this.membership.learn(request.leaving);
  }

  /** Messages a forwarding node took for a client that had gone: back to the head of the stream. */
  serveReturn(request: NodeWire.ReturnRequest): void {
    this.engine.returnToHead(request.streamId, request.messages.map(withSize));
  }

  /**
   * SIGTERM (once the node is draining): hands every in-memory stream to its next owner and leaves the cluster.
   * Requests arriving meanwhile are forwarded (after the hand-off to their owner), so nothing buffered is lost or
   * reordered.
   */
  async leave(): Promise<void> {
    if (!this.membership.clustered) return;
    clearTimeout(this.rebalanceTimer);
    this.membership.beginLeave();
    const ring = this.membership.ring;
    if (ring.size === 0) {
      // The last member: nobody to hand to. The drain answers its waiters; its buffers end with it.
      this.logger.warn(
        { messages: this.engine.stats().bufferedMessages },
        'last member leaving: in-memory messages are not handed off',
      );
      await this.membership.leave();
      return;
    }
    const snapshots = this.engine.detach(() => true);
    const byOwner = groupByOwner(ring, snapshots);
    const self = { ...this.membership.selfUpdate(), state: 'left' as const };
    // Stored messages first: the last in-memory request tells each member that this node left, which makes it
    // home to this node's streams, and by then their stored messages are in its file. If some could not be
    // handed over, this node does not say it left (see StoredHomes.handOver).
    const storedCopied = this.homes.handOver();
    const transfers = ring.names.map((name) => {
      // Settles only once the entry is gone, so a request waiting on it finds the way clear when it retries.
      const transfer = storedCopied
        .then((all) => this.push(ring.member(name)!, byOwner.get(name) ?? [], all ? self : undefined, ring))
        .finally(() => this.outgoing.delete(name));
      this.outgoing.set(name, transfer);
      return transfer;
    });
    await Promise.all(transfers);
    this.logger.info(
      { streams: snapshots.length, messages: countMessages(snapshots), to: ring.names },
      'handed off in-memory streams',
    );
    if (!(await storedCopied)) {
      this.logger.error('stored messages not all handed over: exiting without announcing the leave');
      this.hasLeft = true;
      this.peers.abortAll();
      return;
    }
    // Every member now knows this node left, so one that forwarded a stored long poll here re-routes it.
    this.releaseStoredReaders();
    await this.membership.leave();
    this.hasLeft = true;
    this.peers.abortAll();
  }

  private pull(member: string): void {
    const target = this.membership.ring.member(member);
    if (target === undefined || this.leaving) return;
    this.pendingPulls++;
    const request: NodeWire.PullRequest = { member: this.membership.selfUpdate() };
    void this.peers
      .call<NodeWire.PullAnswer>(target.http, NodeWire.PULL_PATH, request, PULL_TIMEOUT_MS)
      .then(async (answer) => {
        if (answer.streams > 0) this.logger.info({ from: member, ...answer }, 'took over streams');
        // Behind the gate too: no stored stream is served here before its messages are.
        await this.homes.pullFrom(target);
      })
      .catch((err: unknown) => {
        this.logger.warn({ from: member, err: (err as Error).message }, 'pull failed; serving without it');
        this.homes.retryLater(target);
      })
      .finally(() => {
        this.pendingPulls--;
        this.releaseGate();
      });
  }

  private releaseGate(): void {
    if (!this.open) return;
    const waiters = this.gateWaiters;
    this.gateWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Sends snapshots to `member` in requests of bounded size, in order; the last carries `leaving`. A failed
   * transfer never drops a message on purpose: a leaving node (`ring` given) offers what is left again to a
   * member that had no memory for it (until shutdown.graceSeconds ends the process), and sends it to the next
   * owners without a member that failed otherwise; any other node keeps the streams and retries at a later
   * rebalance.
   */
  private async push(
    member: RingMember,
    snapshots: StreamSnapshot[],
    leaving: MemberUpdate | undefined,
    ring?: Ring,
  ): Promise<boolean> {
    if (snapshots.length === 0 && leaving === undefined) return true;
    const chunks = chunkSnapshots(snapshots);
    let sent = 0;
    try {
      for (; sent < chunks.length; sent++) {
        const last = sent === chunks.length - 1;
        const request: NodeWire.AdoptRequest =
          last && leaving !== undefined ? { snapshots: chunks[sent], leaving } : { snapshots: chunks[sent] };
        await this.peers.call(member.http, NodeWire.ADOPT_PATH, request, HANDOFF_TIMEOUT_MS);
        for (const snapshot of chunks[sent]) this.engine.handedOver(snapshot.messages);
      }
      this.onMoved('out', countMessages(snapshots));
      return true;
    } catch (err) {
      const unsent = chunks.slice(sent).flat();
      if (ring !== undefined && err instanceof PeerRefused && err.code === 'MEMORY_FULL') {
        this.logger.warn({ to: member.name, streams: unsent.length }, 'hand-off refused: no memory there; retrying');
        await new Promise((resolve) => setTimeout(resolve, MEMORY_FULL_RETRY_MS));
        return this.push(member, unsent, leaving, ring);
      }
      this.logger.error({ to: member.name, streams: unsent.length, err: (err as Error).message }, 'hand-off failed');
      if (ring === undefined) {
        for (const snapshot of unsent) {
          this.engine.handedOver(snapshot.messages); // counted again as adopted
          this.engine.adopt(snapshot);
        }
        this.scheduleRebalance(RETRY_DELAY_MS);
      } else {
        const fallback = ring.without(member.name);
        const groups = groupByOwner(fallback, unsent);
        if (groups.size === 0) {
          this.logger.error({ messages: countMessages(unsent) }, 'no member left to take them: lost');
          for (const snapshot of unsent) this.engine.handedOver(snapshot.messages);
        }
        await Promise.all(
          [...groups].map(([name, group]) => this.push(fallback.member(name)!, group, undefined, fallback)),
        );
      }
      return false;
    }
  }

  /** Pushes streams this node holds but no longer owns to their owners. */
  private async rebalance(): Promise<void> {
    if (this.leaving) return;
    await this.whenOpen();
    const ring = this.membership.ring;
    const self = this.membership.self.name;
    const strays = this.engine.detach((streamId) => ring.owner(streamId)?.name !== self);
    if (strays.length === 0) return;
    this.logger.info({ streams: strays.length }, 'moving streams to their new owners');
    const byOwner = groupByOwner(ring, strays);
    await Promise.all([...byOwner].map(([name, group]) => this.push(ring.member(name)!, group, undefined)));
  }
}

function groupByOwner(ring: Ring, snapshots: readonly StreamSnapshot[]): Map<string, StreamSnapshot[]> {
  const groups = new Map<string, StreamSnapshot[]>();
  for (const snapshot of snapshots) {
    const owner = ring.owner(snapshot.streamId);
    if (owner === undefined) continue;
    let group = groups.get(owner.name);
    if (group === undefined) groups.set(owner.name, (group = []));
    group.push(snapshot);
  }
  return groups;
}

function countMessages(snapshots: readonly StreamSnapshot[]): number {
  let count = 0;
  for (const snapshot of snapshots) count += snapshot.messages.length;
  return count;
}

/**
 * Splits snapshots into requests of about CHUNK_BYTES; a stream larger than that is split between requests
 * (adopting appends, so its messages stay in order). Always at least one request, possibly empty.
 */
export function chunkSnapshots(snapshots: readonly StreamSnapshot[]): StreamSnapshot[][] {
  const chunks: StreamSnapshot[][] = [];
  let current: StreamSnapshot[] = [];
  let size = 0;
  for (const snapshot of snapshots) {
    let from = 0;
    for (let i = 0; i < snapshot.messages.length; i++) {
      const message = snapshot.messages[i];
      const bytes = message.bytes;
      if (size > 0 && size + bytes > CHUNK_BYTES) {
        if (i > from) current.push(slice(snapshot, from, i));
        chunks.push(current);
        current = [];
        size = 0;
        from = i;
      }
      size += bytes;
    }
    current.push(slice(snapshot, from, snapshot.messages.length));
  }
  chunks.push(current);
  return chunks;
}

/** A message from another node, with its size measured if that node did not send it. */
function withSize(message: NodeWire.StreamMessage): StreamMessage {
  if (message.bytes !== undefined) return message as StreamMessage;
  return { ...message, bytes: measuredBytes(message.messageUuid, message.message) };
}

function sized(snapshot: NodeWire.StreamSnapshot): StreamSnapshot {
  return { ...snapshot, messages: snapshot.messages.map(withSize) };
}

function slice(snapshot: StreamSnapshot, from: number, to: number): StreamSnapshot {
  if (from === 0 && to === snapshot.messages.length) return snapshot;
  // The dedup memory travels with the first part.
  const first = from === 0;
  return {
    ...snapshot,
    messages: snapshot.messages.slice(from, to),
    recentUuids: first ? snapshot.recentUuids : [],
    recentTimestamps: first ? snapshot.recentTimestamps : [],
  };
}
