import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { exportJWK, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../config/index.js';
import { Value } from '@sinclair/typebox/value';
import { Authenticator, Denial, type AuthCounts } from './authenticator.js';
import { TokenVerifier, type Grant } from './token-verifier.js';

const SECRET = 'a-test-secret-of-at-least-32-characters';
const dir = mkdtempSync(join(tmpdir(), 'ipubsub-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SCOPES = { ipubsub: { send: ['orders.*'], receive: ['orders.1'] } };

function jwtConfig(overrides: Record<string, unknown>) {
  const config = Value.Default(ConfigSchema, { auth: { mode: 'jwt', jwt: overrides } }) as {
    auth: { jwt: ConstructorParameters<typeof TokenVerifier>[0] };
  };
  return config.auth.jwt;
}

function counting(): AuthCounts & { seen: Record<string, number> } {
  const seen: Record<string, number> = { cached: 0, verified: 0, unauthorized: 0, forbidden: 0 };
  const count = (name: string) => ({ inc: () => void seen[name]++ });
  return {
    seen,
    cached: count('cached'),
    verified: count('verified'),
    unauthorized: count('unauthorized'),
    forbidden: count('forbidden'),
  };
}

const hs256 = (claims: object = SCOPES, exp: string | number = '1h') =>
  new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(SECRET));

async function reason(verifier: TokenVerifier, token: string): Promise<string> {
  return verifier.verify(token).then(
    () => 'verified',
    (err: Error) => `${err.name}: ${err.message}`,
  );
}

describe('TokenVerifier', () => {
  it('reads the scopes of an HS256 token and refuses bad, expired, unsigned and scope-malformed ones', async () => {
    const verifier = new TokenVerifier(jwtConfig({ secret: SECRET }));
    const grant: Grant = await verifier.verify(await hs256());
    expect(grant.send.allows('orders.9')).toBe(true);
    expect(grant.receive.allows('orders.9')).toBe(false);
    expect(grant.receive.allows('orders.1')).toBe(true);

    const other = await new SignJWT(SCOPES)
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-of-at-least-32-characters'));
    expect(await reason(verifier, other)).toBe('InvalidToken: signature verification failed');
    expect(await reason(verifier, await hs256(SCOPES, Math.floor(Date.now() / 1000) - 60))).toBe(
      'InvalidToken: token expired',
    );
    const noExp = await new SignJWT(SCOPES).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
    expect(await reason(verifier, noExp)).toBe('InvalidToken: claim exp missing');
    const unsigned = new UnsecuredJWT(SCOPES).setExpirationTime('1h').encode();
    expect(await reason(verifier, unsigned)).toMatch(/^InvalidToken: (algorithm not allowed|malformed token)$/);
    expect(await reason(verifier, await hs256({ ipubsub: { send: 'orders.*' } }))).toMatch(
      /ipubsub.send must be a list/,
    );
    expect(await reason(verifier, 'not.a.token')).toBe('InvalidToken: malformed token');
  });

  it('checks issuer and audience, with the clock tolerance on exp', async () => {
    const verifier = new TokenVerifier(jwtConfig({ secret: SECRET, issuer: 'me', audience: 'ipubsub' }));
    const sign = (iss: string, aud: string, exp: string | number = '1h') =>
      new SignJWT(SCOPES)
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(iss)
        .setAudience(aud)
        .setExpirationTime(exp)
        .sign(new TextEncoder().encode(SECRET));
    expect(await reason(verifier, await sign('me', 'ipubsub'))).toBe('verified');
    expect(await reason(verifier, await sign('me', 'other'))).toBe('InvalidToken: claim aud check failed');
    expect(await reason(verifier, await sign('you', 'ipubsub'))).toBe('InvalidToken: claim iss check failed');
    // Expired 2 s ago: within the default 5 s tolerance.
    expect(await reason(verifier, await sign('me', 'ipubsub', Math.floor(Date.now() / 1000) - 2))).toBe('verified');
  });

  it('accepts only the ES* of an EC key, refusing an HS token signed with the public key (algorithm confusion)', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const publicKeyFile = join(dir, 'es256.pem');
    writeFileSync(publicKeyFile, pem);
    const verifier = new TokenVerifier(jwtConfig({ publicKeyFile }));
    const es256 = await new SignJWT(SCOPES)
      .setProtectedHeader({ alg: 'ES256' })
      .setExpirationTime('1h')
      .sign(privateKey);
    expect(await reason(verifier, es256)).toBe('verified');
    const confused = await new SignJWT(SCOPES)
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(pem));
    expect(await reason(verifier, confused)).toBe('InvalidToken: algorithm not allowed');
  });
});

describe('TokenVerifier with a JWKS URL', () => {
  it('fetches the key set from a real HTTP server, again for an unknown kid, and refuses HS tokens', async () => {
    const keys = [
      generateKeyPairSync('ec', { namedCurve: 'P-256' }),
      generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    ];
    const published: object[] = [{ ...(await exportJWK(keys[0].publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }];
    let fetches = 0;
    const server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as { port: number };
      // No cooldown between fetches, so that the rotated key below is fetched at once.
      const verifier = new TokenVerifier(jwtConfig({ jwksUrl: `http://127.0.0.1:${port}/jwks.json` }), 0);
      const sign = (kid: string, key: (typeof keys)[number]['privateKey']) =>
        new SignJWT(SCOPES).setProtectedHeader({ alg: 'ES256', kid }).setExpirationTime('1h').sign(key);
      expect(await reason(verifier, await sign('k1', keys[0].privateKey))).toBe('verified');
      expect(fetches).toBe(1);
      // A rotated key, published after the first fetch: a token naming its kid makes the verifier fetch again.
      expect(await reason(verifier, await sign('k2', keys[1].privateKey))).toBe(
        'InvalidToken: no signing key matches the token',
      );
      published.push({ ...(await exportJWK(keys[1].publicKey)), kid: 'k2', alg: 'ES256', use: 'sig' });
      expect(await reason(verifier, await sign('k2', keys[1].privateKey))).toBe('verified');
      expect(fetches).toBe(3);
      expect(await reason(verifier, await hs256())).toBe('InvalidToken: algorithm not allowed');
    } finally {
      server.close();
    }
  });
});

describe('TokenVerifier with an unreachable JWKS URL', () => {
  it('says the keys are unavailable (a 503 to retry), not that the token is invalid', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    server.close();
    await once(server, 'close');
    const verifier = new TokenVerifier(jwtConfig({ jwksUrl: `http://127.0.0.1:${port}/jwks.json` }));
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const token = await new SignJWT(SCOPES)
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .setExpirationTime('1h')
      .sign(privateKey);
    expect(await reason(verifier, token)).toMatch(/^KeysUnavailable: /);
  });
});

describe('Authenticator', () => {
  it('keeps a verified token until it expires and answers 401 and 403 with their challenges', async () => {
    const counts = counting();
    const auth = new Authenticator(new TokenVerifier(jwtConfig({ secret: SECRET })), 2, counts);
    const token = await hs256();
    expect(await auth.authorize(`Bearer ${token}`, 'send', 'orders.1')).toBeUndefined();
    // Known now: decided at once, without a promise.
    expect(auth.authorize(`Bearer ${token}`, 'send', 'orders.2')).toBeUndefined();
    const forbidden = auth.authorize(`Bearer ${token}`, 'receive', 'orders.2');
    expect(forbidden).toBeInstanceOf(Denial);
    expect(forbidden).toMatchObject({
      code: 'FORBIDDEN',
      challenge: 'Bearer realm="ipubsub", error="insufficient_scope"',
    });
    expect(counts.seen).toEqual({ cached: 2, verified: 1, unauthorized: 0, forbidden: 1 });

    expect(auth.authorize(undefined, 'send', 'orders.1')).toMatchObject({
      code: 'UNAUTHORIZED',
      challenge: 'Bearer realm="ipubsub"',
    });
    expect(await auth.authorize(`Basic ${token}`, 'send', 'orders.1')).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await auth.authorize(`Bearer ${token}x`, 'send', 'orders.1')).toMatchObject({
      code: 'UNAUTHORIZED',
      challenge: 'Bearer realm="ipubsub", error="invalid_token", error_description="signature verification failed"',
    });
  });

  it('holds at most cacheSize tokens, dropping the oldest', async () => {
    const auth = new Authenticator(new TokenVerifier(jwtConfig({ secret: SECRET })), 2, counting());
    const tokens = await Promise.all([1, 2, 3].map((n) => hs256({ ...SCOPES, n })));
    for (const token of tokens) await auth.grantOf(`Bearer ${token}`);
    expect(auth.cachedTokens).toBe(2);
    expect(auth.grantOf(`Bearer ${tokens[0]}`)).toBeInstanceOf(Promise);
    expect(auth.grantOf(`Bearer ${tokens[2]}`)).not.toBeInstanceOf(Promise);
  });
});
