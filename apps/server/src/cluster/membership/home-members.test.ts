import { describe, expect, it } from 'vitest';
import { HomeMembers } from './home-members.js';
import type { MemberState, MemberUpdate } from './types.js';

const member = (name: string, state: MemberState, http = `http://${name}`): MemberUpdate => ({
  name,
  gossip: `${name}:7901`,
  http,
  state,
  incarnation: 0,
});

describe('HomeMembers', () => {
  it('keeps down members and those gossip forgot; drops members that left, and itself when leaving', () => {
    const homes = new HomeMembers({ name: 'a', http: 'http://a' });
    expect(homes.update([member('a', 'alive'), member('b', 'alive'), member('c', 'suspect')], undefined)).toBe(true);
    expect(homes.ring.names).toEqual(['a', 'b', 'c']);

    // b crashes, then gossip forgets it: still a home, the ring unchanged.
    const version = homes.ring.version;
    expect(homes.update([member('a', 'alive'), member('b', 'dead'), member('c', 'alive')], undefined)).toBe(false);
    expect(homes.update([member('a', 'alive'), member('c', 'alive')], undefined)).toBe(false);
    expect(homes.ring.names).toEqual(['a', 'b', 'c']);
    expect(homes.ring.version).toBe(version);

    // c leaves; b comes back at another address; a leaves itself.
    expect(homes.update([member('a', 'alive'), member('c', 'left')], undefined)).toBe(true);
    expect(homes.update([member('b', 'alive', 'http://b2')], undefined)).toBe(true);
    expect(homes.ring.member('b')?.http).toBe('http://b2');
    expect(homes.update([member('a', 'alive'), member('b', 'alive', 'http://b2')], 'a')).toBe(true);
    expect(homes.ring.names).toEqual(['b']);
    expect(homes.ring.version).toBe(version + 3);
  });
});
