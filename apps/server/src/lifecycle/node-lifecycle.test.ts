import { describe, expect, it } from 'vitest';
import { NodeLifecycle } from './node-lifecycle.js';

describe('NodeLifecycle', () => {
  it('goes starting → ready → draining → stopped', () => {
    const lifecycle = new NodeLifecycle();
    expect([lifecycle.state, lifecycle.ready, lifecycle.draining]).toEqual(['starting', false, false]);
    lifecycle.markReady();
    expect([lifecycle.state, lifecycle.ready, lifecycle.draining]).toEqual(['ready', true, false]);
    expect(lifecycle.beginDraining()).toBe(true);
    expect([lifecycle.state, lifecycle.ready, lifecycle.draining]).toEqual(['draining', false, true]);
    lifecycle.markStopped();
    expect([lifecycle.state, lifecycle.ready, lifecycle.draining]).toEqual(['stopped', false, true]);
  });

  it('drains once: a second signal is told the drain has begun', () => {
    const lifecycle = new NodeLifecycle();
    lifecycle.markReady();
    expect(lifecycle.beginDraining()).toBe(true);
    expect(lifecycle.beginDraining()).toBe(false);
    lifecycle.markStopped();
    expect(lifecycle.beginDraining()).toBe(false);
    expect(lifecycle.state).toBe('stopped');
  });

  it('never goes back', () => {
    const lifecycle = new NodeLifecycle();
    lifecycle.markReady();
    expect(() => lifecycle.markReady()).toThrow('cannot go from ready to ready');
    lifecycle.beginDraining();
    expect(() => lifecycle.markReady()).toThrow('cannot go from draining to ready');
    lifecycle.markStopped();
    expect(() => lifecycle.markStopped()).toThrow('cannot go from stopped to stopped');
    expect(lifecycle.state).toBe('stopped');
  });

  it('may drain before it was ever ready, and may stop from any state', () => {
    const starting = new NodeLifecycle();
    expect(starting.beginDraining()).toBe(true);
    expect(starting.state).toBe('draining');
    const failed = new NodeLifecycle();
    failed.markStopped();
    expect(failed.state).toBe('stopped');
    expect(() => failed.markReady()).toThrow('cannot go from stopped to ready');
  });
});
