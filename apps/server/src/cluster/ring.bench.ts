import { afterAll, bench, describe } from 'vitest';
import { Ring, type RingMember } from './ring.js';

// `pnpm exec vitest bench --project server --run apps/server/src/cluster`: the cost of one owner lookup, which
// every send and receive in a cluster pays (well under a microsecond, so the ring needs no cache).

const member = (name: string): RingMember => ({ name, http: `http://${name}` });
const IDS = Array.from({ length: 10_000 }, (_, i) => `user-notifications-${i}-${(i * 2654435761) % 1_000_003}`);

describe('owner lookup of 10,000 stream ids', () => {
  // Read at the end, so that the lookups are not optimised away.
  let checksum = 0;
  afterAll(() => {
    if (checksum === 0) throw new Error('no lookup ran');
  });
  for (const size of [3, 50]) {
    const ring = new Ring(
      Array.from({ length: size }, (_, i) => member(`node-${i + 1}`)),
      1,
    );
    bench(`${size} members`, () => {
      for (const id of IDS) checksum += ring.owner(id)!.name.length;
    });
  }
});
