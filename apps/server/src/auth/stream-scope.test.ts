import { describe, expect, it } from 'vitest';
import { StreamScope } from './stream-scope.js';

describe('StreamScope', () => {
  it('allows exact ids and prefixes ending in *', () => {
    const scope = StreamScope.parse(['orders.*', 'user/42/*', 'audit'], 'ipubsub.send');
    expect(scope.allows('orders.1')).toBe(true);
    expect(scope.allows('orders.')).toBe(true);
    expect(scope.allows('user/42/inbox')).toBe(true);
    expect(scope.allows('audit')).toBe(true);
    expect(scope.allows('audit2')).toBe(false);
    expect(scope.allows('orders')).toBe(false);
    expect(scope.allows('user/420/inbox')).toBe(false);
  });

  it('* alone allows every stream; an absent list allows none', () => {
    expect(StreamScope.parse(['*'], 'x').allows('anything')).toBe(true);
    expect(StreamScope.parse(undefined, 'x').allows('anything')).toBe(false);
    expect(StreamScope.parse([], 'x').allows('anything')).toBe(false);
  });

  it('refuses malformed lists', () => {
    expect(() => StreamScope.parse('orders.*', 'ipubsub.send')).toThrow(/list/);
    expect(() => StreamScope.parse([1], 'ipubsub.send')).toThrow(/strings/);
    expect(() => StreamScope.parse([''], 'ipubsub.send')).toThrow(/strings/);
    expect(() => StreamScope.parse(['a*b'], 'ipubsub.send')).toThrow(/may only end/);
  });
});
