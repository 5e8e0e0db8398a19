import { describe, expect, it } from 'vitest';
import { isoTimestamp } from './iso-time.js';

describe('isoTimestamp', () => {
  it('matches Date.prototype.toISOString', () => {
    const samples = [
      0,
      1,
      999,
      1000,
      59_999,
      3_599_999,
      86_399_999,
      86_400_000,
      Date.now(),
      253_402_300_799_999,
      -1,
      -86_400_001,
    ];
    for (let i = 0; i < 10_000; i++) samples.push(Math.floor(Math.random() * 4_102_444_800_000));
    for (const ms of samples) expect(isoTimestamp(ms), String(ms)).toBe(new Date(ms).toISOString());
  });

  it('switches days within a run', () => {
    const midnight = Date.UTC(2030, 0, 2);
    for (const ms of [midnight - 1, midnight, midnight - 1, midnight + 1])
      expect(isoTimestamp(ms)).toBe(new Date(ms).toISOString());
  });
});
