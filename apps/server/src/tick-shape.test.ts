import { describe, expect, it } from 'vitest';
import { keepTickObjectShape, keptTickObject } from './tick-shape.js';

describe('keepTickObjectShape', () => {
  it("keeps one of process.nextTick's own records (callback, args and the two async id symbols)", async () => {
    keepTickObjectShape();
    await new Promise((resolve) => process.nextTick(resolve));
    const kept = keptTickObject() as Record<PropertyKey, unknown>;
    expect(typeof kept.callback).toBe('function');
    expect('args' in kept).toBe(true);
    // Node 22 and later add their async context frame beside the two ids.
    expect(Object.getOwnPropertySymbols(kept).map(String)).toEqual(
      expect.arrayContaining(['Symbol(async_id_symbol)', 'Symbol(trigger_async_id_symbol)']),
    );
  });
});
