import type { DuplicateSend, StreamMessage } from './types.js';

/**
 * Up to this many remembered messageUuids are compared one by one; beyond, a busier stream keeps a 32-bit
 * fingerprint of each beside them and compares strings only where a fingerprint matches. (A Set cost more:
 * its table is reallocated as entries come and go, on every send of a busy stream.)
 */
const DEDUP_SCAN_LIMIT = 16;

/** The arrival time of a remembered messageUuid that a previous owner handed over without it. */
export const TIMESTAMP_UNKNOWN = -1;

/** FNV-1a over the UTF-16 code units. */
function fingerprint(uuid: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < uuid.length; i++) hash = Math.imul(hash ^ uuid.charCodeAt(i), 0x01000193);
  return hash;
}

/**
 * A stream's last `size` messageUuids, a ring once full, with their messages' arrival times (what a retry is
 * answered) in the same slots, and their fingerprints once it is long. Made with the stream's first message.
 */
export class DedupWindow {
  private readonly uuids: string[];
  private readonly timestamps: number[];
  private fingerprints: Int32Array | null = null;
  private next = 0;

  constructor(
    private readonly size: number,
    uuid: string,
    timestamp: number,
  ) {
    // Exactly one slot: most streams never see a second message.
    this.uuids = [uuid];
    this.timestamps = [timestamp];
  }

  /** The slot of a remembered messageUuid, or -1. */
  indexOf(uuid: string): number {
    const uuids = this.uuids;
    const fingerprints = this.fingerprints;
    if (fingerprints === null) return uuids.indexOf(uuid);
    const wanted = fingerprint(uuid);
    for (let i = 0; i < uuids.length; i++) if (fingerprints[i] === wanted && uuids[i] === uuid) return i;
    return -1;
  }

  /** The answer to a retry of the message remembered in `slot`. */
  duplicateOf(slot: number, retry: StreamMessage): DuplicateSend {
    const original = this.timestamps[slot];
    return { originalTimestamp: original === TIMESTAMP_UNKNOWN ? retry.timestamp : original };
  }

  /** A remembered messageUuid whose arrival time was unknown gets it from its message. */
  learnTimestamp(slot: number, timestamp: number): void {
    if (this.timestamps[slot] === TIMESTAMP_UNKNOWN) this.timestamps[slot] = timestamp;
  }

  /** Adds a messageUuid that is not remembered yet (the callers have checked) and its message's arrival time. */
  add(uuid: string, timestamp: number): void {
    const { uuids, timestamps } = this;
    let slot = this.next;
    if (uuids.length < this.size) {
      slot = uuids.length;
      uuids.push(uuid);
      timestamps.push(timestamp);
    } else {
      uuids[slot] = uuid;
      timestamps[slot] = timestamp;
      this.next = (slot + 1) % this.size;
    }
    if (this.fingerprints !== null) {
      this.fingerprints[slot] = fingerprint(uuid);
    } else if (uuids.length > DEDUP_SCAN_LIMIT) {
      this.fingerprints = new Int32Array(this.size);
      for (let i = 0; i < uuids.length; i++) this.fingerprints[i] = fingerprint(uuids[i]);
    }
  }

  /** Remembered messageUuids and their messages' arrival times, in the same order. */
  list(): { uuids: string[]; timestamps: number[] } {
    return { uuids: this.uuids.slice(), timestamps: this.timestamps.slice() };
  }
}
