import { isMember } from './member-records.js';
import { Swim } from './swim.js';
import type { MemberState, MembershipEvent, SwimMessage, SwimTiming } from './types.js';

/** Deterministic PRNG (mulberry32), so a simulated run repeats exactly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface InFlight {
  readonly at: number;
  readonly from: string;
  readonly to: string;
  readonly payload: string;
}

export interface SimNode {
  readonly name: string;
  readonly address: string;
  swim: Swim;
  up: boolean;
  /** Until then the process stands still: no ticks, datagrams wait in its socket. */
  stalledUntil: number;
  readonly events: MembershipEvent[];
}

export interface SimNodeOptions {
  readonly cluster?: string;
  readonly seeds?: readonly string[];
}

/**
 * A simulated clock and network for the SWIM state machine: datagrams are delayed, lost or cut by partitions,
 * nodes crash and restart, and time only moves when the test says so. Messages go through JSON as on the wire.
 */
export class SimNetwork {
  now = 0;
  /** Probability that a datagram is lost. */
  loss = 0;
  /** Delivery delay range in ms. */
  delay: { min: number; max: number } = { min: 1, max: 5 };
  sent = 0;
  private readonly nodes = new Map<string, SimNode>();
  private readonly byName = new Map<string, SimNode>();
  private inFlight: InFlight[] = [];
  private readonly cuts = new Set<string>();
  private readonly random: () => number;

  constructor(
    seed: number,
    private readonly timing: Partial<SwimTiming> = {},
  ) {
    this.random = seededRandom(seed);
  }

  /** Adds and starts a node at `sim:<name>`; its seeds default to the first node's address. */
  add(name: string, options: SimNodeOptions = {}): SimNode {
    const address = `sim:${name}`;
    const node: SimNode = { name, address, swim: undefined as unknown as Swim, up: true, stalledUntil: 0, events: [] };
    node.swim = this.createSwim(node, options);
    this.nodes.set(address, node);
    this.byName.set(name, node);
    node.swim.start(this.now);
    return node;
  }

  node(name: string): SimNode {
    const node = this.byName.get(name);
    if (node === undefined) throw new Error(`no node ${name}`);
    return node;
  }

  /** The process dies: it sends, receives and ticks no more. */
  crash(name: string): void {
    this.node(name).up = false;
  }

  /**
   * The process stands still for `ms` (a long GC pause or a blocking task). As in Node, when it resumes its
   * timers run before it reads the datagrams that queued up meanwhile.
   */
  stall(name: string, ms: number): void {
    this.node(name).stalledUntil = this.now + ms;
  }

  /** A new process at the same address, knowing nothing (incarnation 0). */
  restart(name: string, options: SimNodeOptions = {}): void {
    const node = this.node(name);
    node.up = true;
    node.events.length = 0;
    node.swim = this.createSwim(node, options);
    node.swim.start(this.now);
  }

  /** Cuts every link between the two groups until `heal()`. */
  partition(groupA: readonly string[], groupB: readonly string[]): void {
    for (const a of groupA)
      for (const b of groupB) {
        this.cuts.add(`sim:${a}|sim:${b}`);
        this.cuts.add(`sim:${b}|sim:${a}`);
      }
  }

  heal(): void {
    this.cuts.clear();
  }

  /** Advances the clock by `ms` in steps of `step`, delivering due datagrams and ticking every live node. */
  run(ms: number, step = 5): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += step;
      this.deliverDue();
      for (const node of this.nodes.values()) if (node.up && this.now >= node.stalledUntil) node.swim.tick(this.now);
    }
  }

  /** Runs until `done()` holds; returns the simulated time it took, or throws after `limitMs`. */
  runUntil(done: () => boolean, limitMs: number, step = 5): number {
    const start = this.now;
    while (!done()) {
      if (this.now - start >= limitMs) throw new Error(`condition not met within ${limitMs} ms of simulated time`);
      this.run(step, step);
    }
    return this.now - start;
  }

  /** What `observer` believes about `subject` (undefined: unknown to it). */
  stateOf(observer: string, subject: string): MemberState | undefined {
    return this.node(observer)
      .swim.members()
      .find((member) => member.name === subject)?.state;
  }

  /** Every live node sees exactly `expected` (by name) as members (alive or suspect). */
  converged(expected: readonly string[]): boolean {
    const want = [...expected].sort().join(',');
    for (const name of expected) {
      const node = this.node(name);
      if (!node.up) continue;
      const seen = node.swim
        .members()
        .filter((member) => isMember(member.state))
        .map((member) => member.name);
      if (seen.sort().join(',') !== want) return false;
    }
    return true;
  }

  private createSwim(node: SimNode, options: SimNodeOptions): Swim {
    const first = this.nodes.values().next().value;
    return new Swim(
      {
        cluster: options.cluster ?? 'sim',
        self: { name: node.name, gossip: node.address, http: `http://${node.name}` },
        seeds: options.seeds ?? (first === undefined ? [] : [first.address]),
        timing: this.timing,
        random: seededRandom(Math.floor(this.random() * 2 ** 32)),
      },
      {
        send: (to, message) => this.transmit(node, to, message),
        event: (event) => node.events.push(event),
      },
    );
  }

  private transmit(from: SimNode, to: string, message: SwimMessage): void {
    if (!from.up) return;
    this.sent++;
    if (this.cuts.has(`${from.address}|${to}`)) return;
    if (this.random() < this.loss) return;
    const at = this.now + this.delay.min + Math.floor(this.random() * (this.delay.max - this.delay.min + 1));
    this.inFlight.push({ at, from: from.address, to, payload: JSON.stringify(message) });
  }

  private deliverDue(): void {
    if (this.inFlight.length === 0) return;
    const readable = (datagram: InFlight): boolean =>
      datagram.at <= this.now && this.now > (this.nodes.get(datagram.to)?.stalledUntil ?? 0);
    const due = this.inFlight.filter(readable).sort((a, b) => a.at - b.at);
    if (due.length === 0) return;
    this.inFlight = this.inFlight.filter((datagram) => !readable(datagram));
    for (const datagram of due) {
      const target = this.nodes.get(datagram.to);
      // A cut made while the datagram was in flight still drops it.
      if (target === undefined || !target.up || this.cuts.has(`${datagram.from}|${datagram.to}`)) continue;
      target.swim.receive(this.now, datagram.from, JSON.parse(datagram.payload) as SwimMessage);
    }
  }
}
