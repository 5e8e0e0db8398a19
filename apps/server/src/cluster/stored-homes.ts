import { NodeWire } from '@ipubsub/sdk/wire';
import type { Logger } from 'pino';
import type { StoredStreams } from '../store/index.js';
import type { HeldKey, HeldMessage, MessageCopies } from '../store/message-store.js';
import type { Membership } from './membership/membership.js';
import type { PeerClient } from './peer-client.js';
import type { Ring, RingMember } from './ring.js';

/** Longest one page of copies may take to be read, sent and kept. */
const PAGE_TIMEOUT_MS = 30_000;
/** Messages read from the store at a time while looking for those of one member's streams. */
const LIST_BATCH = 1_000;
/** A page stops growing at about this many bytes of messages (or after LIST_BATCHES_PER_PAGE reads). */
const PAGE_BYTES = 4 * 1024 * 1024;
const LIST_BATCHES_PER_PAGE = 20;
/** After a failed pull from a live member, when it is tried again. */
const RETRY_DELAY_MS = 5_000;

/**
 * Stored streams on a node-local store in a cluster (`store.allowNodeLocalInCluster`). Each stream's stored
 * messages live in the file of its *home*: its owner among every member not left, down ones included
 * (`Membership.homes`). So a member going down moves nothing: its streams answer 503 until it is back, and
 * nothing acknowledged becomes unreadable or is written in two places. Homes change only when a member joins
 * or leaves, and the stored messages follow, keeping their sequences (resume tokens stay valid):
 *
 * - A node that joins (or comes back) pulls, from every member it reaches, the copies of the streams it is home
 *   to, behind the hand-off gate: it serves none of its streams before they are in its file. A stream whose
 *   previous home it could not pull from (down) answers 503 until that member is back and pulled.
 * - A leaving node sends the stored messages of all its streams to their next homes (to a live member when that
 *   home is down, where the home pulls them when it is back) before it hands off its in-memory streams.
 *
 * Copies are idempotent (by position and messageUuid), so pulling twice, or from two members holding the same
 * messages, stores each message once. A node keeps its own copies after a stream moved away (docs: what it costs).
 */
export class StoredHomes {
  /** True when the store is node-local and this node is clustered: stored streams are placed by home. */
  readonly enabled: boolean;
  /** Members whose copies this node has pulled since it joined (or since they came back). */
  private readonly pulled = new Set<string>();
  /** The homes ring without this node, for the ring it was made from: each stream's previous home. */
  private previousHomes: { readonly of: Ring; readonly ring: Ring } | undefined;

  constructor(
    private readonly membership: Membership,
    private readonly stored: Pick<StoredStreams, 'copies' | 'settled'>,
    private readonly peers: PeerClient,
    private readonly logger: Logger,
    /** Stored messages copied to (`in`: new to this node's store) or sent from this node. */
    private readonly onCopied: (direction: 'in' | 'out', messages: number) => void = () => undefined,
  ) {
    this.enabled = stored.copies !== undefined && membership.clustered;
  }

  /** The ring that places a stream's stored requests: homes with a node-local store, live members otherwise. */
  storedRing(): Ring {
    return this.enabled ? this.membership.homes : this.membership.ring;
  }

  /** Why this node, home to `streamId`, cannot serve its stored messages yet; null when it can. */
  notServable(streamId: string): string | null {
    const homes = this.membership.homes;
    if (this.previousHomes?.of !== homes)
      this.previousHomes = { of: homes, ring: homes.without(this.membership.self.name) };
    const previous = this.previousHomes.ring.owner(streamId);
    if (previous === undefined || this.pulled.has(previous.name)) return null;
    return (
      `stored messages of stream ${streamId} may still be on ${previous.name} (node-local store), which this node` +
      ` has not reached yet; retry`
    );
  }

  /** This node joined again, or a member left and came back: its copies are pulled anew. */
  forget(member?: string): void {
    if (member === undefined) this.pulled.clear();
    else this.pulled.delete(member);
  }

  /** Copies every stored message of the streams this node is home to from `member` into this node's store. */
  async pullFrom(member: RingMember): Promise<void> {
    const copies = this.stored.copies;
    if (copies === undefined || !this.enabled) return;
    let after: HeldKey | null = null;
    let kept = 0;
    do {
      const request: NodeWire.StoredPullRequest = { member: this.membership.selfUpdate(), after };
      const answer: NodeWire.StoredPullAnswer = await this.peers.call(
        member.http,
        NodeWire.STORED_PULL_PATH,
        request,
        PAGE_TIMEOUT_MS,
      );
      kept += await copies.keep(answer.messages, answer.marks);
      after = answer.next;
    } while (after !== null);
    this.pulled.add(member.name);
    this.onCopied('in', kept);
    if (kept > 0) this.logger.info({ from: member.name, messages: kept }, 'took over stored messages');
  }

  /**
   * A pull that failed is tried again while the member is alive: until it succeeds, the streams whose previous
   * home it is answer 503 (`notServable`).
   */
  retryLater(member: RingMember): void {
    if (!this.enabled) return;
    const timer = setTimeout(() => {
      if (this.pulled.has(member.name) || this.membership.ring.member(member.name) === undefined) return;
      this.pullFrom(member).catch((err: unknown) => {
        this.logger.warn({ from: member.name, err: (err as Error).message }, 'stored pull failed; retrying');
        this.retryLater(member);
      });
    }, RETRY_DELAY_MS);
    timer.unref();
  }

  /** A member that is home to streams now asks for this node's copies of their messages. */
  async servePull(request: NodeWire.StoredPullRequest): Promise<NodeWire.StoredPullAnswer> {
    const copies = this.requireCopies();
    const requester = request.member.name;
    if (request.after === null) {
      this.membership.learn(request.member);
      // Sends accepted before this node learnt of the new home are committed before the listing starts; later
      // ones are forwarded to the new home, which serves nothing before its pulls are done.
      await this.stored.settled();
    }
    const homes = this.membership.homes;
    const page = await collectPage(copies, request.after, (streamId) => homes.owner(streamId)?.name === requester);
    this.onCopied('out', page.messages.length);
    return page;
  }

  async serveKeep(request: NodeWire.StoredKeepRequest): Promise<number> {
    const kept = await this.requireCopies().keep(request.messages, request.marks);
    this.onCopied('in', kept);
    return kept;
  }

  /**
   * Leaving: every stored message this node holds goes to its stream's next home — or, when that home is down,
   * to the stream's live owner, where the home pulls it once back. Resolves to whether all of them got there;
   * never rejects. When some did not, the caller must not announce that it left: the others then take this
   * node for crashed and keep its streams waiting for it (503), instead of serving them without those messages.
   */
  async handOver(): Promise<boolean> {
    const copies = this.stored.copies;
    if (copies === undefined || !this.enabled) return true;
    try {
      return await this.sendAll(copies);
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'could not read the stored messages to hand over');
      return false;
    }
  }

  private async sendAll(copies: MessageCopies): Promise<boolean> {
    await this.stored.settled();
    const homes = this.membership.homes;
    const live = this.membership.ring;
    const target = (streamId: string): RingMember | undefined => {
      const home = homes.owner(streamId);
      return home === undefined || this.membership.isDown(home.name) ? live.owner(streamId) : home;
    };
    const failed = new Set<string>();
    let sent = 0;
    let after: HeldKey | null = null;
    do {
      const page = await collectPage(copies, after, () => true);
      const groups = new Map<RingMember, NodeWire.StoredKeepRequest>();
      const group = (streamId: string): NodeWire.StoredKeepRequest | undefined => {
        const member = target(streamId);
        if (member === undefined || failed.has(member.name)) return undefined;
        let request = groups.get(member);
        if (request === undefined) groups.set(member, (request = { messages: [], marks: [] }));
        return request;
      };
      for (const message of page.messages) group(message.streamId)?.messages.push(message);
      for (const mark of page.marks) group(mark.streamId)?.marks.push(mark);
      await Promise.all(
        [...groups].map(async ([member, request]) => {
          const { messages } = request;
          try {
            await this.peers.call(member.http, NodeWire.STORED_KEEP_PATH, request, PAGE_TIMEOUT_MS);
            sent += messages.length;
          } catch (err) {
            failed.add(member.name);
            this.logger.error(
              { to: member.name, err: (err as Error).message },
              'could not hand over stored messages; they stay in this node only',
            );
          }
        }),
      );
      after = page.next;
    } while (after !== null);
    this.onCopied('out', sent);
    this.logger.info({ messages: sent }, 'handed over stored messages');
    return failed.size === 0;
  }

  private requireCopies(): MessageCopies {
    const copies = this.stored.copies;
    if (copies === undefined) throw new Error('this node has a shared store: stored messages do not move');
    return copies;
  }
}

/** One page of held messages after `after` that `wanted` keeps, bounded in bytes and in store reads. */
async function collectPage(
  copies: MessageCopies,
  after: HeldKey | null,
  wanted: (streamId: string) => boolean,
): Promise<NodeWire.StoredPullAnswer> {
  const messages: HeldMessage[] = [];
  let bytes = 0;
  let next = after;
  for (let reads = 0; reads < LIST_BATCHES_PER_PAGE && bytes < PAGE_BYTES; reads++) {
    const batch = await copies.list(next, LIST_BATCH);
    if (batch.length === 0) return withMarks(copies, messages, null);
    for (const message of batch) {
      if (wanted(message.streamId)) {
        messages.push(message);
        bytes += 64 + message.messageUuid.length + message.messageJson.length;
      }
    }
    const last = batch[batch.length - 1];
    next = { streamId: last.streamId, seq: last.seq };
    if (batch.length < LIST_BATCH) return withMarks(copies, messages, null);
  }
  return withMarks(copies, messages, next);
}

/** A page and the high-water marks of its streams, which travel with their messages. */
async function withMarks(
  copies: MessageCopies,
  messages: HeldMessage[],
  next: HeldKey | null,
): Promise<NodeWire.StoredPullAnswer> {
  const streamIds = new Set<string>();
  for (const message of messages) streamIds.add(message.streamId);
  return { messages, marks: await copies.marks([...streamIds]), next };
}
