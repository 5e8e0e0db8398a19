import { DomainError } from '../domain-error.js';

/**
 * The node-wide budget for message data held in memory: buffered in streams, parked with blocked senders,
 * waiting for a store's group commit, or on its way to another node in a hand-off. A message's size is the
 * byte length of the JSON it arrived in. Taking and giving back are one addition each.
 */
export class MemoryBudget {
  private usedBytes = 0;

  constructor(
    readonly limitBytes: number,
    /** Told of each refusal (metrics, a throttled log); never on the path of an accepted message. */
    private readonly onRefused: () => void = () => undefined,
  ) {}

  get used(): number {
    return this.usedBytes;
  }

  /** Counts `bytes` if they fit; false (and nothing counted) when the budget would be exceeded. */
  tryAcquire(bytes: number): boolean {
    if (this.usedBytes + bytes > this.limitBytes) {
      this.onRefused();
      return false;
    }
    this.usedBytes += bytes;
    return true;
  }

  /** Whether `bytes` more would fit now, without counting them; a refusal is reported as `tryAcquire`'s is. */
  admits(bytes: number): boolean {
    if (this.usedBytes + bytes <= this.limitBytes) return true;
    this.onRefused();
    return false;
  }

  /**
   * Counts bytes that must be held whatever the budget says (messages given back to the head of a stream, a
   * failed hand-off taken back): dropping them would lose messages the node already accepted.
   */
  acquire(bytes: number): void {
    this.usedBytes += bytes;
  }

  release(bytes: number): void {
    this.usedBytes -= bytes;
  }
}

/** A hand-off whose messages this node has no room for; the sender keeps them and tries again later. */
export class MemoryFullError extends DomainError {
  override readonly name = 'MemoryFullError';

  constructor(message: string) {
    super('MEMORY_FULL', message);
  }
}

/**
 * The size of a message that came without one (handed over by a node of an earlier version, given back by a
 * forwarding node): its JSON, and about what the envelope of a send adds to it.
 */
export function measuredBytes(messageUuid: string, message: unknown): number {
  return 64 + messageUuid.length + Buffer.byteLength(JSON.stringify(message) ?? '');
}
