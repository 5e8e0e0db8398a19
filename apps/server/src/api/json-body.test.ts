import { describe, expect, it } from 'vitest';
import { nestedDeeperThan } from './json-body.js';

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

describe('nestedDeeperThan', () => {
  it('counts arrays and objects inside one another', () => {
    expect(nestedDeeperThan(nested(3), 3)).toBe(false);
    expect(nestedDeeperThan(nested(4), 3)).toBe(true);
    expect(nestedDeeperThan('{"a":{"b":[{}]}}', 3)).toBe(true);
    expect(nestedDeeperThan('[[1],[2],{"a":1},[]]', 2)).toBe(false);
  });

  it('skips brackets inside strings, escaped quotes and backslashes included', () => {
    expect(nestedDeeperThan(`["${'['.repeat(50)}"]`, 1)).toBe(false);
    expect(nestedDeeperThan(String.raw`["\"[[[[", "\\", [[1]]]`, 3)).toBe(false);
    expect(nestedDeeperThan(String.raw`["\\\"[[[[", [[[1]]]]`, 3)).toBe(true);
  });
});
