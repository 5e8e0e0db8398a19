import { describe, expect, it } from 'vitest';
import { SimNetwork } from './sim-network.js';
import { DEFAULT_TIMING, type MembershipEvent } from './types.js';

const FIVE = ['n1', 'n2', 'n3', 'n4', 'n5'];
/**
 * Every duration below is simulated time on a seeded network, the same on any machine under any load: a bound on
 * it is a property of the protocol (so many protocol periods), not a measure of speed.
 */
const PERIOD = DEFAULT_TIMING.protocolPeriodMs;
/** How long five members suspect one before declaring it dead: multiplier × max(1, log10 5) periods. */
const SUSPICION = DEFAULT_TIMING.suspicionMultiplier * PERIOD;

function cluster(seed: number, names: readonly string[] = FIVE): SimNetwork {
  const net = new SimNetwork(seed);
  for (const name of names) net.add(name);
  net.runUntil(() => net.converged(names), 5_000);
  return net;
}

function memberEvents(events: readonly MembershipEvent[], subject: string): string[] {
  return events.flatMap((event) =>
    event.kind === 'member' && event.member.name === subject ? [event.member.state] : [],
  );
}

function everyone(net: SimNetwork, names: readonly string[], subject: string): (string | undefined)[] {
  return names.map((name) => net.stateOf(name, subject));
}

describe('SWIM membership (simulated clock and network)', () => {
  it('forms a cluster through one seed', () => {
    const net = new SimNetwork(1);
    for (const name of FIVE) net.add(name);
    const took = net.runUntil(() => net.converged(FIVE), 5_000);
    expect(took).toBeLessThan(4 * PERIOD);
    for (const name of FIVE) expect(net.node(name).swim.joined).toBe(true);
  });

  it('forms a cluster when every node lists every node as a seed and all start together', () => {
    const net = new SimNetwork(2);
    const seeds = ['n1', 'n2', 'n3'].map((name) => `sim:${name}`);
    for (const name of ['n1', 'n2', 'n3']) net.add(name, { seeds });
    expect(net.runUntil(() => net.converged(['n1', 'n2', 'n3']), 5_000)).toBeLessThan(2 * PERIOD);
  });

  it('starts a cluster of its own when no seed answers, and lets later nodes join it', () => {
    const net = new SimNetwork(3);
    const first = net.add('n1', { seeds: ['sim:n2'] });
    net.run(500);
    expect(first.swim.joined).toBe(false);
    net.run(600);
    expect(first.swim.joined).toBe(true);
    net.add('n2', { seeds: ['sim:n1'] });
    net.runUntil(() => net.converged(['n1', 'n2']), 2_000);
  });

  it('declares a crashed member dead everywhere, and nobody else', () => {
    const net = cluster(4);
    net.crash('n3');
    const survivors = FIVE.filter((name) => name !== 'n3');
    const took = net.runUntil(() => everyone(net, survivors, 'n3').every((state) => state === 'dead'), 10_000);
    // At most ~2 periods to be probed, one to fail, then the suspicion, and a period for the news to spread.
    expect(took).toBeLessThan(4 * PERIOD + SUSPICION);
    for (const observer of survivors)
      for (const subject of survivors) expect(net.stateOf(observer, subject)).toBe('alive');
  });

  it('gets through a broken direct link by indirect probes, without suspecting anyone', () => {
    const net = cluster(5);
    net.partition(['n1'], ['n2']);
    net.run(20_000);
    expect(memberEvents(net.node('n1').events, 'n2')).toEqual(['alive']);
    expect(memberEvents(net.node('n2').events, 'n1')).toEqual(['alive']);
    expect(net.converged(FIVE)).toBe(true);
  });

  it('tolerates round trips longer than the probe timeout (indirect probes, no suspicion)', () => {
    const net = cluster(6);
    net.delay = { min: 120, max: 180 };
    net.run(30_000);
    for (const name of FIVE) {
      const states = FIVE.flatMap((subject) => memberEvents(net.node(name).events, subject));
      expect(states.filter((state) => state !== 'alive')).toEqual([]);
    }
  });

  it('a suspected member refutes with a higher incarnation and is never declared dead', () => {
    const net = cluster(7);
    const others = FIVE.filter((name) => name !== 'n2');
    net.partition(['n2'], others);
    net.runUntil(() => others.some((name) => net.stateOf(name, 'n2') === 'suspect'), 5_000);
    net.heal();
    net.runUntil(() => everyone(net, others, 'n2').every((state) => state === 'alive'), 5_000);
    net.run(5_000);
    const seen = others.flatMap((name) => memberEvents(net.node(name).events, 'n2'));
    expect(seen).toContain('suspect');
    expect(seen).not.toContain('dead');
    expect(net.node('n2').swim.incarnation).toBeGreaterThan(0);
  });

  it('a stalled process suspects nobody when it resumes, and refutes the suspicion of others', () => {
    // Stalls starting at every point of a protocol period, so some begin between a ping and its ack.
    for (let offset = 0; offset < 500; offset += 5) {
      const net = cluster(17);
      net.run(offset);
      net.stall('n1', 1_500);
      net.run(10_000);
      const byN1 = FIVE.flatMap((subject) => memberEvents(net.node('n1').events, subject));
      expect(byN1.filter((state) => state !== 'alive')).toEqual([]);
      const aboutN1 = FIVE.flatMap((observer) => memberEvents(net.node(observer).events, 'n1'));
      expect(aboutN1).toContain('suspect');
      expect(aboutN1).not.toContain('dead');
      expect(net.converged(FIVE)).toBe(true);
    }
  });

  it('survives 10% datagram loss for a minute without declaring anyone dead', () => {
    const net = cluster(8);
    net.loss = 0.1;
    net.run(60_000);
    for (const name of FIVE) {
      const states = FIVE.flatMap((subject) => memberEvents(net.node(name).events, subject));
      expect(states).not.toContain('dead');
    }
    expect(net.converged(FIVE)).toBe(true);
  });

  it('splits on a partition and merges again once it heals', () => {
    const net = cluster(9);
    const left = ['n1', 'n2'];
    const right = ['n3', 'n4', 'n5'];
    net.partition(left, right);
    net.runUntil(() => net.converged(left) && net.converged(right), 10_000);
    net.heal();
    const took = net.runUntil(() => net.converged(FIVE), 20_000);
    // Re-contacting a dead member happens every sync interval; the refutation then spreads by gossip.
    expect(took).toBeLessThan(2 * DEFAULT_TIMING.syncIntervalMs + 2 * PERIOD);
  });

  it('spreads a graceful leave at once, and the member stays gone', () => {
    const net = cluster(10);
    net.node('n4').swim.leave(net.now);
    net.run(50);
    expect(everyone(net, ['n1', 'n2', 'n3', 'n5'], 'n4')).toEqual(['left', 'left', 'left', 'left']);
    net.crash('n4');
    net.run(5_000);
    expect(everyone(net, ['n1', 'n2', 'n3', 'n5'], 'n4')).toEqual(['left', 'left', 'left', 'left']);
  });

  it('a restarted member rejoins with a higher incarnation than its death', () => {
    const net = cluster(11);
    net.crash('n3');
    net.runUntil(() => net.stateOf('n1', 'n3') === 'dead', 10_000);
    net.restart('n3', { seeds: ['sim:n1'] });
    net.runUntil(() => net.converged(FIVE), 5_000);
    expect(net.node('n3').swim.incarnation).toBeGreaterThan(0);
    expect(memberEvents(net.node('n5').events, 'n3').slice(-2)).toEqual(['dead', 'alive']);
  });

  it('a restart faster than failure detection is taken up at once', () => {
    const net = cluster(12);
    const before = net
      .node('n1')
      .swim.members()
      .find((member) => member.name === 'n3')!;
    net.crash('n3');
    net.restart('n3', { seeds: ['sim:n1'] });
    net.run(3_000);
    expect(net.converged(FIVE)).toBe(true);
    const after = net
      .node('n1')
      .swim.members()
      .find((member) => member.name === 'n3')!;
    expect(after.incarnation).toBeGreaterThanOrEqual(before.incarnation);
  });

  it('refuses a node of another cluster', () => {
    const net = cluster(13, ['n1', 'n2']);
    const stranger = net.add('x', { cluster: 'other', seeds: ['sim:n1'] });
    net.run(3_000);
    expect(stranger.swim.joined).toBe(false);
    expect(stranger.swim.refused?.reason).toMatch(/cluster "sim", not "other"/);
    expect(stranger.events).toContainEqual(expect.objectContaining({ kind: 'refused', from: 'sim:n1' }));
    expect(net.stateOf('n1', 'x')).toBeUndefined();
    expect(net.stateOf('n2', 'x')).toBeUndefined();
  });

  it('learns a member from outside gossip (an HTTP call) and spreads it', () => {
    const net = cluster(14, ['n1', 'n2', 'n3']);
    net.crash('n3');
    net.runUntil(() => net.stateOf('n1', 'n3') === 'dead', 10_000);
    const dead = net
      .node('n1')
      .swim.members()
      .find((member) => member.name === 'n3')!;
    net.node('n1').swim.learn(net.now, { ...dead, state: 'alive', incarnation: dead.incarnation + 1 });
    expect(net.stateOf('n1', 'n3')).toBe('alive');
  });

  it('reports a refuted death so the node can reclaim what others took over', () => {
    const net = cluster(15, ['n1', 'n2', 'n3']);
    net.partition(['n3'], ['n1', 'n2']);
    net.runUntil(() => net.stateOf('n1', 'n3') === 'dead' && net.stateOf('n3', 'n1') === 'dead', 10_000);
    net.heal();
    net.runUntil(() => net.converged(['n1', 'n2', 'n3']), 10_000);
    expect(net.node('n3').events).toContainEqual({ kind: 'refuted', claim: 'dead' });
  });

  it('keeps gossip traffic proportional to the members: about one probe and one ack per node per period', () => {
    const net = cluster(16);
    const before = net.sent;
    net.run(10_000);
    const perNodePerPeriod = (net.sent - before) / FIVE.length / (10_000 / PERIOD);
    // ping + ack, plus a sync pair every 2 s per node.
    expect(perNodePerPeriod).toBeGreaterThan(1.5);
    expect(perNodePerPeriod).toBeLessThan(3);
  });
});
