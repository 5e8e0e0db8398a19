import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../apps/server/src/cluster/membership/sim-network.js';
import { ServerProcess } from './support/server.js';

/**
 * Bad input never gets a 5xx: seeded random mutations of send bodies (broken JSON, wrong types, deep
 * nesting, odd keys, odd bytes) are each answered below 500 with `{error, code}`, and whatever was accepted
 * can be received again without a 5xx.
 */

let server: ServerProcess;

beforeAll(async () => {
  server = await ServerProcess.start();
});

afterAll(async () => {
  await server?.stop();
});

const STREAMS = ['fuzz-a', 'fuzz-b', 'fuzz-c'];
const VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e308,
  'x',
  '',
  [],
  {},
  '\u0000\ud800',
  'é🎉',
  { __proto__: 1 },
  [1, [2, [3]]],
];

/** One bad (or just odd) request body. */
function mutation(random: () => number, i: number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const valid = {
    streamId: pick(STREAMS),
    messageUuid: `u${i}`,
    message: pick(VALUES),
  } as Record<string, unknown>;
  const text = JSON.stringify(valid);
  switch (Math.floor(random() * 10)) {
    case 0: // truncated
      return text.slice(0, Math.floor(random() * text.length));
    case 1: // a field of the wrong type
      valid[pick(['streamId', 'messageUuid', 'inMemoryStreamSize', 'blockingSendTimeoutSeconds', 'writeToDB'])] =
        pick(VALUES);
      return JSON.stringify(valid);
    case 2: {
      // deep nesting in the message, around and past the limit
      const depth = pick([255, 256, 257, 1_000, 10_000, 100_000]);
      return text.replace(/"message":.*}$/, `"message":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    }
    case 3: // prototype keys in the envelope or the message
      return pick([
        text.replace('{', '{"__proto__":{"writeToDB":true},'),
        text.replace('{', '{"constructor":{"prototype":{"x":1}},'),
        text.replace(/"message":.*}$/, '"message":{"__proto__":{"polluted":1}}}'),
      ]);
    case 4: // random bytes replacing some characters
      return [...text].map((c) => (random() < 0.1 ? String.fromCharCode(Math.floor(random() * 256)) : c)).join('');
    case 5: // not an object
      return JSON.stringify(pick(VALUES));
    case 6: // out-of-range numbers
      valid[pick(['inMemoryStreamSize', 'blockingSendTimeoutSeconds', 'dbTTLSeconds'])] = pick([
        -1,
        1e20,
        0.5,
        2 ** 53,
      ]);
      return JSON.stringify(valid);
    case 7: // a bad stream id or uuid
      valid[pick(['streamId', 'messageUuid'])] = pick(['', ' ', 'a b', 'x'.repeat(300), '\u0000', '../..']);
      return JSON.stringify(valid);
    case 8: // duplicate keys, trailing garbage
      return pick([
        text.replace('{', `{"streamId":"fuzz-a","streamId":${JSON.stringify(valid.streamId)},`),
        `${text}}`,
        `${text} x`,
      ]);
    default: // valid
      return text;
  }
}

describe('bad input over HTTP', () => {
  it('never gets a 5xx, and every refusal is {error, code}', async () => {
    const random = seededRandom(11);
    const answers = new Map<number, number>();
    for (let i = 0; i < 400; i++) {
      const body = mutation(random, i);
      const res = await fetch(`${server.url}/api/v1/streams/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const text = await res.text();
      answers.set(res.status, (answers.get(res.status) ?? 0) + 1);
      expect(res.status, `${body.slice(0, 200)} → ${text.slice(0, 200)}`).toBeLessThan(500);
      if (res.status !== 200) expect(JSON.parse(text)).toMatchObject({ code: expect.any(String) });
    }
    // Both kinds happened: the mutations are not all refused, nor all taken.
    expect(answers.get(200)).toBeGreaterThan(10);
    expect(answers.get(400)).toBeGreaterThan(10);
    // What was taken comes back out without a 5xx.
    for (const streamId of STREAMS) {
      for (;;) {
        const res = await server.receive({ streamId, timeoutSeconds: 0, maxMessages: 100 });
        await res.text();
        expect(res.status).toBeLessThan(500);
        if (res.status !== 200) break;
      }
    }
  });
});
