import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { InFlightLimit } from './in-flight-limit.js';

describe('InFlightLimit', () => {
  it('runs at most `limit` requests at once, all of them eventually, and says when it is idle', async () => {
    const limit = new InFlightLimit(3);
    let running = 0;
    let most = 0;
    const request = async (i: number): Promise<number> => {
      most = Math.max(most, ++running);
      await sleep(i % 4);
      running--;
      return i;
    };
    const all = Promise.all(Array.from({ length: 20 }, (_, i) => limit.run(() => request(i))));
    let idle = false;
    const settled = limit.idle().then(() => (idle = true));
    await sleep(0);
    expect(idle).toBe(false);
    expect(await all).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await settled;
    expect(most).toBe(3);
    expect(running).toBe(0);
  });

  it('frees the slot of a request that fails', async () => {
    const limit = new InFlightLimit(1);
    await expect(limit.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limit.run(async () => 'next')).toBe('next');
    await limit.idle();
  });
});
