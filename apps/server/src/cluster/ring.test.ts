import { describe, expect, it } from 'vitest';
import { Ring, type RingMember } from './ring.js';

const member = (name: string): RingMember => ({ name, http: `http://${name}` });
const KEYS = Array.from({ length: 30_000 }, (_, i) => `stream-${i}`);

function shares(ring: Ring): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of KEYS) {
    const owner = ring.owner(key)!.name;
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return counts;
}

describe('Ring (rendezvous hashing)', () => {
  it('spreads streams evenly', () => {
    for (const size of [2, 3, 5, 10]) {
      const ring = new Ring(
        Array.from({ length: size }, (_, i) => member(`node-${i + 1}`)),
        1,
      );
      const counts = shares(ring);
      expect(counts.size).toBe(size);
      for (const count of counts.values()) expect(Math.abs(count / KEYS.length - 1 / size)).toBeLessThan(0.02);
    }
  });

  it('does not depend on the order members are listed in', () => {
    const a = new Ring([member('a'), member('b'), member('c')], 1);
    const b = new Ring([member('c'), member('a'), member('b')], 7);
    for (const key of KEYS.slice(0, 1000)) expect(a.owner(key)).toEqual(b.owner(key));
  });

  it('a joining member takes streams only for itself, about 1/n of them', () => {
    const before = new Ring([member('a'), member('b'), member('c')], 1);
    const after = new Ring([member('a'), member('b'), member('c'), member('d')], 2);
    let moved = 0;
    for (const key of KEYS) {
      const was = before.owner(key)!.name;
      const now = after.owner(key)!.name;
      if (was !== now) {
        expect(now).toBe('d');
        moved++;
      }
    }
    expect(Math.abs(moved / KEYS.length - 0.25)).toBeLessThan(0.02);
  });

  it("a leaving member's streams go to their runner-up, and no other stream moves", () => {
    const full = new Ring([member('a'), member('b'), member('c')], 1);
    const without = new Ring([member('a'), member('c')], 2);
    for (const key of KEYS) {
      const owner = full.owner(key)!.name;
      expect(without.owner(key)!.name).toBe(owner === 'b' ? full.without('b').owner(key)!.name : owner);
    }
  });

  it('handles one member and none', () => {
    const one = new Ring([member('a')], 1);
    expect(one.owner('x')!.name).toBe('a');
    expect(one.without('a').owner('x')).toBeUndefined();
    expect(new Ring([], 1).owner('x')).toBeUndefined();
  });
});
