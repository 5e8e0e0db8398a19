import { SignJWT } from 'jose';
import { bench, describe } from 'vitest';
import { Authenticator } from './authenticator.js';
import { TokenVerifier } from './token-verifier.js';

// `pnpm exec vitest bench --project server --run apps/server/src/auth`: what a send's token check costs when the
// token is known (every request of a client reusing its token after the first), against the same work without it.

const SECRET = 'bench-jwt-secret-0123456789abcdefghijklmnop';
const token = await new SignJWT({ ipubsub: { send: ['send-*'], receive: ['send-*'] } })
  .setProtectedHeader({ alg: 'HS256' })
  .setExpirationTime('1h')
  .sign(new TextEncoder().encode(SECRET));
const header = `Bearer ${token}`;
const noop = { inc: () => undefined };
const auth = new Authenticator(
  new TokenVerifier({ secret: SECRET, clockToleranceSeconds: 5, cacheSize: 10_000 }),
  10_000,
  {
    cached: noop,
    verified: noop,
    unauthorized: noop,
    forbidden: noop,
  },
);
await auth.authorize(header, 'send', 'send-0');

/** A request's header and streamId as the server gets them: fresh strings whose hashes nobody has computed yet. */
function parsed(n: number): { authorization: string; streamId: string } {
  return JSON.parse(`{"authorization":"${header}","streamId":"send-${n % 1000}"}`) as {
    authorization: string;
    streamId: string;
  };
}

describe('a send with a known token', () => {
  let n = 0;
  bench(
    'parse + cached check',
    () => {
      const request = parsed(n++);
      if (auth.authorize(request.authorization, 'send', request.streamId) !== undefined) throw new Error('denied');
    },
    { time: 2_000 },
  );
  bench(
    'parse only',
    () => {
      if (parsed(n++).streamId === '') throw new Error('unreachable');
    },
    { time: 2_000 },
  );
});
