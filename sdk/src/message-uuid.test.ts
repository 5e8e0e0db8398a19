import { webcrypto } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { newMessageUuid } from './message-uuid.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newMessageUuid', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('is crypto.randomUUID() where there is one', () => {
    vi.stubGlobal('crypto', { randomUUID: () => 'from-random-uuid' });
    expect(newMessageUuid()).toBe('from-random-uuid');
  });

  it('without crypto.randomUUID (a plain-http page), a version 4 UUID from getRandomValues, different each time', () => {
    vi.stubGlobal('crypto', { getRandomValues: (array: Uint8Array) => webcrypto.getRandomValues(array) });
    const uuids = new Set(Array.from({ length: 1000 }, newMessageUuid));
    expect(uuids.size).toBe(1000);
    for (const uuid of uuids) expect(uuid).toMatch(V4);
  });
});
