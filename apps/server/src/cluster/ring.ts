/** A node that owns streams: its name and the base URL its HTTP API is reached at. */
export interface RingMember {
  readonly name: string;
  readonly http: string;
}

/**
 * Who owns each stream: rendezvous (highest-random-weight) hashing over the live members. Each member scores
 * every stream by hash(stream) mixed with hash(member name); the highest score owns it.
 *
 * Why rendezvous rather than a ring of virtual nodes: the balance is as even as hundreds of virtual nodes
 * give, with no tables to build; a member joining takes streams only for itself and a member leaving gives
 * each of its streams to that stream's runner-up, so hand-off targets are known without a second lookup.
 * A lookup hashes the stream id once and mixes one integer per member: about 0.12 µs for three members and
 * 0.3 µs for fifty (ring.test.ts), so there is no cache to keep in step with membership.
 */
export class Ring {
  private readonly members: readonly RingMember[];
  private readonly weights: Uint32Array;

  /** `version` counts the changes of membership this node has seen; it is local to the node. */
  constructor(
    members: readonly RingMember[],
    readonly version: number,
  ) {
    // Sorted, so that equal scores (a 1 in 2^32 event) break the same way on every node.
    this.members = [...members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.weights = Uint32Array.from(this.members, (member) => hashString(member.name, 0x9747b28c));
  }

  get size(): number {
    return this.members.length;
  }

  get names(): string[] {
    return this.members.map((member) => member.name);
  }

  member(name: string): RingMember | undefined {
    return this.members.find((member) => member.name === name);
  }

  /** The same ring less one member (same version: a view for choosing fallbacks, not a new membership). */
  without(name: string): Ring {
    return new Ring(
      this.members.filter((member) => member.name !== name),
      this.version,
    );
  }

  /** The owner of a stream; undefined only for an empty ring. */
  owner(streamId: string): RingMember | undefined {
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
