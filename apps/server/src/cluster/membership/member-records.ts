import type { MemberState, MemberUpdate } from './types.js';

/** What a SWIM node knows of a member: its last update, and when its state changed. */
export interface MemberRecord {
  name: string;
  gossip: string;
  http: string;
  state: MemberState;
  incarnation: number;
  /** When the state last changed (ms). */
  since: number;
  /** When a suspicion turns into death (ms); meaningful only while `suspect`. */
  suspectDeadline: number;
}

/** Alive or suspect: still a member, still owns its streams, still probed. */
export function isMember(state: MemberState): boolean {
  return state === 'alive' || state === 'suspect';
}

/** Whether `update` should replace what is known (`current`), by incarnation and then by state. */
export function supersedes(update: MemberUpdate, current: MemberRecord): boolean {
  switch (update.state) {
    case 'alive':
      return update.incarnation > current.incarnation;
    case 'suspect':
      return current.state === 'alive'
        ? update.incarnation >= current.incarnation
        : update.incarnation > current.incarnation;
    case 'dead':
      return isMember(current.state)
        ? update.incarnation >= current.incarnation
        : update.incarnation > current.incarnation;
    case 'left':
      return current.state !== 'left'
        ? update.incarnation >= current.incarnation
        : update.incarnation > current.incarnation;
  }
}

export function toUpdate(record: MemberRecord): MemberUpdate {
  return {
    name: record.name,
    gossip: record.gossip,
    http: record.http,
    state: record.state,
    incarnation: record.incarnation,
  };
}

/** Members still in the cluster (alive or suspect) among `records`, plus one: this node. */
export function clusterSize(records: Iterable<MemberRecord>): number {
  let n = 1;
  for (const member of records) if (isMember(member.state)) n++;
  return n;
}

/** Up to `count` of the records `accept` takes, chosen at random. */
export function pickAtRandom(
  records: Iterable<MemberRecord>,
  random: () => number,
  accept: (member: MemberRecord) => boolean,
  count: number,
): MemberRecord[] {
  return shuffle(random, [...records].filter(accept)).slice(0, count);
}

/** Shuffles `items` in place (Fisher–Yates). */
export function shuffle<T>(random: () => number, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
