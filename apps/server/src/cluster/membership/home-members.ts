import { Ring, type RingMember } from '../ring.js';
import type { MemberUpdate } from './types.js';

/**
 * The members that stream homes are placed on (cluster/stored-homes.ts): every member seen that has not left —
 * down ones included, and kept after gossip has forgotten them — so that a crash moves no stream's home.
 */
export class HomeMembers {
  private readonly members = new Map<string, RingMember>();
  private current: Ring;

  constructor(self: RingMember) {
    this.members.set(self.name, { name: self.name, http: self.http });
    this.current = new Ring([...this.members.values()], 1);
  }

  get ring(): Ring {
    return this.current;
  }

  /**
   * Takes in what gossip knows now; `leaving` names this node once it leaves (no longer a home). Members absent
   * from `known` stay. Resolves to whether the ring changed (a new one, with the next version).
   */
  update(known: readonly MemberUpdate[], leaving: string | undefined): boolean {
    let changed = false;
    for (const member of known) {
      if (member.state === 'left' || member.name === leaving) {
        changed = this.members.delete(member.name) || changed;
      } else if (this.members.get(member.name)?.http !== member.http) {
        this.members.set(member.name, { name: member.name, http: member.http });
        changed = true;
      }
    }
    if (changed) this.current = new Ring([...this.members.values()], this.current.version + 1);
    return changed;
  }
}
