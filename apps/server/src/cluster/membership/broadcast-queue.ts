import type { MemberUpdate } from './types.js';

interface Pending {
  update: MemberUpdate;
  transmits: number;
}

/**
 * Updates waiting to be piggybacked on outgoing messages. Each goes out a bounded number of times, least sent
 * first; a newer update about a member replaces the queued one, so stale facts are never spread.
 */
export class BroadcastQueue {
  private readonly pending = new Map<string, Pending>();

  enqueue(update: MemberUpdate): void {
    this.pending.set(update.name, { update, transmits: 0 });
  }

  get size(): number {
    return this.pending.size;
  }

  /** Up to `max` updates for one message; an update sent `limit` times leaves the queue. */
  take(max: number, limit: number): MemberUpdate[] {
    if (this.pending.size === 0) return [];
    const chosen = [...this.pending.values()].sort((a, b) => a.transmits - b.transmits).slice(0, max);
    for (const entry of chosen) {
      entry.transmits++;
      if (entry.transmits >= limit) this.pending.delete(entry.update.name);
    }
    return chosen.map((entry) => entry.update);
  }
}
