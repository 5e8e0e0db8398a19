/**
 * Which member of a cluster owns a stream: rendezvous (highest-random-weight) hashing, shared by the server (which
 * serves or forwards each request by it) and the SDK (which sends each request straight to the owner), so both
 * compute the same owner. Each member scores every stream by hash(stream) mixed with hash(member name); the
 * highest score owns it. Pure code, no dependencies: it is part of the client bundle.
 */

/** The name of this function on the wire (`GET /api/v1/cluster`): a client that knows another routes through any node. */
export const RING_HASH = 'rendezvous-murmur3-32';

/** Response header carrying the answering node's ring version: a client holding another refreshes its ring. */
export const RING_VERSION_HEADER = 'ipubsub-ring-version';

/** Members sorted by name with their weights; `owner()` picks a stream's. */
export class Rendezvous<M extends { readonly name: string }> {
  /** Sorted by name, so that equal scores (a 1 in 2^32 event) break the same way everywhere. */
  readonly members: readonly M[];
  private readonly weights: Uint32Array;

  constructor(members: readonly M[]) {
    this.members = [...members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.weights = Uint32Array.from(this.members, (member) => hashString(member.name, 0x9747b28c));
  }

  /** The owner of a stream; undefined only without members. */
  owner(streamId: string): M | undefined {
    const members = this.members;
    if (members.length <= 1) return members[0];
    const key = hashString(streamId, 0);
    let bestIndex = 0;
    let bestScore = -1;
    for (let i = 0; i < members.length; i++) {
      const score = mix(key ^ this.weights[i]);
      if (score > bestScore) {
        bestScore = score;
        bestIndex = i;
      }
    }
    return members[bestIndex];
  }
}

/** MurmurHash3 (x86, 32-bit) of a string's UTF-16 code units; stream ids are ASCII by the wire schema. */
export function hashString(text: string, seed: number): number {
  let h = seed >>> 0;
  const length = text.length;
  let i = 0;
  for (; i + 1 < length; i += 2) {
    let k = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < length) {
    let k = text.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= length * 2;
  return mix(h);
}

/** MurmurHash3's finaliser: every input bit flips each output bit with probability about 1/2. */
function mix(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
