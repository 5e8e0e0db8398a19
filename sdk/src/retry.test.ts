import { describe, expect, it } from 'vitest';
import { backoffDelay, isRetryableStatus, retryAfterMs, sleep } from './retry.js';

const RETRY = { limit: 5, baseDelayMs: 100, maxDelayMs: 1000 };

describe('backoffDelay', () => {
  it('is uniform between 0 and base·2^attempt, capped', () => {
    expect(backoffDelay(0, RETRY, () => 0)).toBe(0);
    expect(backoffDelay(0, RETRY, () => 0.5)).toBe(50);
    expect(backoffDelay(3, RETRY, () => 0.5)).toBe(400);
    expect(backoffDelay(4, RETRY, () => 0.999)).toBeCloseTo(999);
    expect(backoffDelay(60, RETRY, () => 0.999)).toBeCloseTo(999);
    expect(backoffDelay(10_000, RETRY, () => 1)).toBe(1000);
  });

  it('spreads the retries of many clients over the whole window', () => {
    const delays = Array.from({ length: 2000 }, () => backoffDelay(2, RETRY));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(400);
    expect(delays.filter((d) => d < 200).length).toBeGreaterThan(800);
    expect(delays.filter((d) => d >= 200).length).toBeGreaterThan(800);
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  it('reads delta-seconds and HTTP dates', () => {
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('0', now)).toBe(0);
    expect(retryAfterMs('Tue, 01 Jan 2030 00:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('Mon, 31 Dec 2029 23:59:00 GMT', now)).toBe(0);
    // Longer than a timer can wait (about 24.8 days): the longest wait, not one that fires at once.
    expect(retryAfterMs(String(30 * 86_400), now)).toBe(2 ** 31 - 1);
  });
  it('ignores what it cannot read', () => {
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('', now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});

describe('isRetryableStatus', () => {
  it('retries timeouts, limits and server failures, nothing else', () => {
    expect([408, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 413, 415, 424].some(isRetryableStatus)).toBe(false);
  });
});

describe('sleep', () => {
  it('resolves after the delay', async () => {
    const started = Date.now();
    await sleep(50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
  it('rejects with the reason as soon as the signal aborts, and at once when already aborted', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const sleeping = sleep(60_000, controller.signal);
    setTimeout(() => controller.abort(new Error('stop')), 20);
    await expect(sleeping).rejects.toThrow('stop');
    // Not when the 60 s sleep ends; the margin is for a loaded machine.
    expect(Date.now() - started).toBeLessThan(20_000);
    await expect(sleep(60_000, AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });
});
