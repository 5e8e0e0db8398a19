import { NodeWire } from '@ipubsub/sdk/wire';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import type { StreamSnapshot } from '../streams/index.js';
import { CHUNK_BYTES, chunkSnapshots } from './handoff.js';

function snapshot(streamId: string, count: number, bytes: number): StreamSnapshot {
  return {
    streamId,
    capacity: 1000,
    messages: Array.from({ length: count }, (_, i) => ({
      messageUuid: `${streamId}-${i}`,
      message: 'x'.repeat(bytes),
      timestamp: i,
      bytes: 64 + bytes,
    })),
    recentUuids: [`${streamId}-old`],
    recentTimestamps: [-5],
  };
}

describe('hand-off requests', () => {
  it('a small hand-off is one request, and an empty one still one (it carries the leave)', () => {
    const small = [snapshot('a', 3, 10), snapshot('b', 2, 10)];
    expect(chunkSnapshots(small)).toEqual([small]);
    expect(chunkSnapshots([])).toEqual([[]]);
  });

  it('each request, with or without the leave, is what a receiving node accepts (NodeWire.AdoptRequestSchema)', () => {
    const accepts = TypeCompiler.Compile(NodeWire.AdoptRequestSchema);
    const member = { name: 'node-1', gossip: '127.0.0.1:7901', http: 'http://127.0.0.1:8801' };
    for (const snapshots of chunkSnapshots([snapshot('a', 3, 10), snapshot('b', 2, 10)])) {
      const request: NodeWire.AdoptRequest = { snapshots, leaving: { ...member, state: 'left', incarnation: 3 } };
      expect(accepts.Check(JSON.parse(JSON.stringify(request)))).toBe(true);
      expect(accepts.Check({ snapshots })).toBe(true);
    }
    expect(accepts.Check({ snapshots: [{ ...snapshot('bad id', 1, 1) }] })).toBe(false);
    expect(accepts.Check({ snapshots: [], leaving: { ...member, state: 'left', incarnation: -1 } })).toBe(false);
  });

  it('splits large hand-offs into bounded requests, splitting a large stream in order', () => {
    const big = [snapshot('a', 300, 20_000), snapshot('b', 10, 10), snapshot('c', 500, 20_000)];
    const chunks = chunkSnapshots(big);
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) expect(JSON.stringify(chunk).length).toBeLessThan(CHUNK_BYTES * 1.05);
    // Adopting the parts one after another gives back every stream exactly, in order.
    for (const original of big) {
      const parts = chunks.flat().filter((part) => part.streamId === original.streamId);
      expect(parts.flatMap((part) => part.messages)).toEqual(original.messages);
      expect(parts[0].recentUuids).toEqual(original.recentUuids);
      expect(parts[0].recentTimestamps).toEqual(original.recentTimestamps);
      for (const later of parts.slice(1)) expect([later.recentUuids, later.recentTimestamps]).toEqual([[], []]);
    }
  });
});
