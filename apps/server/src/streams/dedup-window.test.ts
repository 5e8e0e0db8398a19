import { describe, expect, it } from 'vitest';
import { DedupWindow, TIMESTAMP_UNKNOWN } from './dedup-window.js';

const retry = (timestamp: number) => ({ messageUuid: 'x', message: null, timestamp, bytes: 1 });

describe('DedupWindow', () => {
  it('remembers the last `size` ids, forgetting the oldest, and finds them past the fingerprint threshold', () => {
    const window = new DedupWindow(40, 'm0', 0);
    for (let i = 1; i < 100; i++) window.add(`m${i}`, i);
    for (let i = 0; i < 60; i++) expect(window.indexOf(`m${i}`)).toBe(-1);
    for (let i = 60; i < 100; i++)
      expect(window.duplicateOf(window.indexOf(`m${i}`), retry(-9))).toEqual({ originalTimestamp: i });
    const { uuids, timestamps } = window.list();
    expect(new Set(uuids)).toEqual(new Set(Array.from({ length: 40 }, (_, i) => `m${60 + i}`)));
    expect(timestamps.map((timestamp) => `m${timestamp}`)).toEqual(uuids);
  });

  it('answers a retry with the time it learns once it was handed over without one', () => {
    const window = new DedupWindow(10, 'a', TIMESTAMP_UNKNOWN);
    expect(window.duplicateOf(0, retry(7))).toEqual({ originalTimestamp: 7 });
    window.learnTimestamp(0, 3);
    window.learnTimestamp(0, 5);
    expect(window.duplicateOf(0, retry(7))).toEqual({ originalTimestamp: 3 });
  });
});
