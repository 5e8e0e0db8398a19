import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, uniqueStreamId } from './support/api-helpers.js';
import { runUntilExit } from './support/exit.js';
import { CLI_MAIN, ServerProcess } from './support/server.js';
import { bearer, es256KeyPair, signToken, TEST_JWT_SECRET, type Scopes } from './support/tokens.js';

/** Sections 3 and 4 of issue 13 against real nodes with real HS256 and ES256 tokens. */

const dir = mkdtempSync(join(tmpdir(), 'ipubsub-e2e-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `ipubsub token <args>` and returns the token it prints. */
function cliToken(args: string[], env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [CLI_MAIN, 'token', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  }).trim();
}

const ORDERS: Scopes = { send: ['orders.*', 'audit'], receive: ['orders.*'] };

async function expectUnauthorized(res: Response, invalidToken: boolean): Promise<string> {
  const challenge = res.headers.get('www-authenticate') ?? '';
  await expectError(res, 401, 'UNAUTHORIZED');
  expect(challenge).toMatch(/^Bearer realm="ipubsub"/);
  if (invalidToken) expect(challenge).toContain('error="invalid_token"');
  else expect(challenge).not.toContain('error=');
  return challenge;
}

describe('auth.mode jwt with an HS256 secret', () => {
  let node: ServerProcess;
  beforeAll(async () => {
    node = await ServerProcess.start({
      env: {
        IPUBSUB_AUTH_MODE: 'jwt',
        IPUBSUB_AUTH_JWT_SECRET: TEST_JWT_SECRET,
        IPUBSUB_AUTH_JWT_AUDIENCE: 'ipubsub-e2e',
        IPUBSUB_HTTP_CORSORIGINS: 'https://app.example',
      },
    });
  });
  afterAll(() => node?.stop());

  const token = (scopes: Scopes | undefined, options = {}) =>
    signToken(TEST_JWT_SECRET, scopes, { audience: 'ipubsub-e2e', ...options });
  const message = (streamId: string) => ({ streamId, messageUuid: uniqueStreamId('m'), message: { n: 1 } });

  it('answers 401 with WWW-Authenticate without a token, and error="invalid_token" for a bad one', async () => {
    const streamId = uniqueStreamId('orders.a');
    await expectUnauthorized(await node.send(message(streamId)), false);
    await expectUnauthorized(await node.receive({ streamId, timeoutSeconds: 0 }), false);
    const good = await token(ORDERS);
    const tampered = good.slice(0, -2) + (good.endsWith('AA') ? 'BB' : 'AA');
    const forged = await signToken('some-other-secret-that-is-32-characters-long', ORDERS, { audience: 'ipubsub-e2e' });
    const expired = await token(ORDERS, { expiresIn: -60 });
    const wrongAudience = await signToken(TEST_JWT_SECRET, ORDERS, { audience: 'someone-else' });
    const unsigned = new UnsecuredJWT({ ipubsub: ORDERS }).setAudience('ipubsub-e2e').setExpirationTime('1h').encode();
    const reasons = [];
    for (const bad of [tampered, forged, expired, wrongAudience, unsigned, 'garbage']) {
      const res = await node.send(message(streamId), {
        headers: { 'content-type': 'application/json', ...bearer(bad) },
      });
      reasons.push(/error_description="([^"]*)"/.exec(await expectUnauthorized(res, true))?.[1]);
    }
    expect(reasons).toEqual([
      'signature verification failed',
      'signature verification failed',
      'token expired',
      'claim aud check failed',
      'algorithm not allowed',
      'malformed token',
    ]);
  });

  it('serves streams inside the token scopes (exact and prefix) and answers 403 outside', async () => {
    const headers = { 'content-type': 'application/json', ...bearer(await token(ORDERS)) };
    const streamId = uniqueStreamId('orders.b');
    expect((await node.send(message(streamId), { headers })).status).toBe(200);
    expect((await node.send(message('audit'), { headers })).status).toBe(200);
    const received = await node.receive({ streamId, timeoutSeconds: 0 }, { headers });
    expect(received.status).toBe(200);

    const forbiddenSend = await node.send(message(uniqueStreamId('payments')), { headers });
    expect(forbiddenSend.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    await expectError(forbiddenSend, 403, 'FORBIDDEN');
    // `audit` may be sent to but not read; `orders` (no dot) is outside the `orders.*` prefix.
    await expectError(await node.receive({ streamId: 'audit', timeoutSeconds: 0 }, { headers }), 403, 'FORBIDDEN');
    await expectError(await node.send(message('orders'), { headers }), 403, 'FORBIDDEN');
    // A valid token without the ipubsub claim may use no stream.
    const bare = { 'content-type': 'application/json', ...bearer(await token(undefined)) };
    await expectError(await node.send(message(streamId), { headers: bare }), 403, 'FORBIDDEN');
  });

  it('guards stored sends and reads (readFromDB, dbResumeToken) with the receive scope', async () => {
    const writer = { 'content-type': 'application/json', ...bearer(await token({ send: ['orders.*'] })) };
    const reader = bearer(await token({ receive: ['orders.*'] }));
    const streamId = uniqueStreamId('orders.stored');
    const sent = await node.send({ ...message(streamId), writeToDB: true }, { headers: writer });
    expect(sent.status, await sent.clone().text()).toBe(200);
    await expectError(
      await node.receive({ streamId, readFromDB: true, timeoutSeconds: 0 }, { headers: writer }),
      403,
      'FORBIDDEN',
    );
    await expectUnauthorized(await node.receive({ streamId, readFromDB: true, timeoutSeconds: 0 }), false);
    const read = await node.receive({ streamId, readFromDB: true, timeoutSeconds: 0 }, { headers: reader });
    expect(read.status).toBe(200);
    const { dbResumeToken } = (await read.json()) as { dbResumeToken: string };
    const replay = await node.receive({ streamId, dbResumeToken, timeoutSeconds: 0 });
    await expectUnauthorized(replay, false);
  });

  it('leaves /health, /ready and /metrics open, and the cluster API to any valid token', async () => {
    for (const path of ['/health', '/ready', '/metrics']) expect((await fetch(node.url + path)).status).toBe(200);
    await expectUnauthorized(await fetch(`${node.url}/api/v1/cluster`), false);
    await expectUnauthorized(
      await fetch(`${node.url}/api/v1/cluster/owner?streamId=x`, { headers: bearer('x.y.z') }),
      true,
    );
    const res = await fetch(`${node.url}/api/v1/cluster`, { headers: bearer(await token(undefined)) });
    expect(res.status).toBe(200);
  });

  it('accepts a token minted by `ipubsub token` with the secret from IPUBSUB_AUTH_JWT_SECRET', async () => {
    const token = cliToken(['--sub', 'alice', '--send', 'orders.*', '--receive', 'orders.*', '--ttl', '1h'], {
      IPUBSUB_AUTH_JWT_SECRET: TEST_JWT_SECRET,
      IPUBSUB_AUTH_JWT_AUDIENCE: 'ipubsub-e2e',
    });
    const headers = { 'content-type': 'application/json', ...bearer(token) };
    expect((await node.send(message(uniqueStreamId('orders.cli')), { headers })).status).toBe(200);
    await expectError(await node.send(message('billing'), { headers }), 403, 'FORBIDDEN');
  });

  it('answers a CORS preflight that asks for the Authorization header', async () => {
    const res = await fetch(`${node.url}/api/v1/streams/send`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
  });
});

describe('auth.mode jwt with an ES256 public key and auth.protectMetrics', () => {
  let node: ServerProcess;
  const { privateKey, publicKeyPem } = es256KeyPair();
  beforeAll(async () => {
    const publicKeyFile = join(dir, 'es256.pem');
    writeFileSync(publicKeyFile, publicKeyPem);
    node = await ServerProcess.start({
      waitReady: false,
      env: {
        IPUBSUB_AUTH_MODE: 'jwt',
        IPUBSUB_AUTH_JWT_PUBLICKEYFILE: publicKeyFile,
        IPUBSUB_AUTH_PROTECTMETRICS: 'true',
      },
    });
  });
  afterAll(() => node?.stop());

  it('accepts ES256 tokens and refuses an HS256 token signed with the public key', async () => {
    const headers = { 'content-type': 'application/json', ...bearer(await signToken(privateKey, ORDERS)) };
    const streamId = uniqueStreamId('orders.es');
    const sent = await node.send({ streamId, messageUuid: 'm-1', message: 1 }, { headers });
    expect(sent.status).toBe(200);
    await expectError(await node.receive({ streamId: 'elsewhere', timeoutSeconds: 0 }, { headers }), 403, 'FORBIDDEN');
    const confused = await signToken(publicKeyPem, ORDERS);
    const res = await node.send(
      { streamId, messageUuid: 'm-2', message: 1 },
      { headers: { ...headers, ...bearer(confused) } },
    );
    expect(/error_description="([^"]*)"/.exec(await expectUnauthorized(res, true))?.[1]).toBe('algorithm not allowed');
  });

  it('accepts a token minted by `ipubsub token --key-file` with the EC private key', async () => {
    const keyFile = join(dir, 'es256-private.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const headers = {
      'content-type': 'application/json',
      ...bearer(cliToken(['--key-file', keyFile, '--send', 'cli'])),
    };
    expect((await node.send({ streamId: 'cli', messageUuid: 'm-1', message: 1 }, { headers })).status).toBe(200);
    await expectError(await node.receive({ streamId: 'cli', timeoutSeconds: 0 }, { headers }), 403, 'FORBIDDEN');
  });

  it('protects /ready and /metrics but not /health', async () => {
    expect((await fetch(`${node.url}/health`)).status).toBe(200);
    await expectUnauthorized(await fetch(`${node.url}/ready`), false);
    await expectUnauthorized(await fetch(`${node.url}/metrics`), false);
    const headers = bearer(await signToken(privateKey, undefined));
    expect((await fetch(`${node.url}/ready`, { headers })).status).toBe(200);
    // One 403 from each test of this node before this one.
    const metrics = await fetch(`${node.url}/metrics`, { headers });
    expect(await metrics.text()).toMatch(/ipubsub_auth_checks_total\{outcome="forbidden"\} 2\n/);
  });
});

describe('safe defaults stop the start', () => {
  it('refuses anonymous access on a non-loopback host, naming auth.mode and auth.allowAnonymous', async () => {
    const { code, stderr } = await runUntilExit([], { IPUBSUB_HTTP_HOST: '0.0.0.0' });
    expect(code).toBe(2);
    expect(stderr).toContain('auth.mode');
    expect(stderr).toContain('auth.allowAnonymous');
  });

  it('refuses a cluster with auth whose cluster.secret is under 32 characters', async () => {
    const { code, stderr } = await runUntilExit([], {
      IPUBSUB_AUTH_MODE: 'jwt',
      IPUBSUB_AUTH_JWT_SECRET: TEST_JWT_SECRET,
      IPUBSUB_CLUSTER_SEEDS: '127.0.0.1:1',
      IPUBSUB_CLUSTER_SECRET: 'short',
    });
    expect(code).toBe(2);
    expect(stderr).toContain('cluster.secret must be at least 32 characters');
  });

  it('starts on a non-loopback host with auth.allowAnonymous: true', async () => {
    const node = await ServerProcess.start({
      env: { IPUBSUB_HTTP_HOST: '0.0.0.0', IPUBSUB_AUTH_ALLOWANONYMOUS: 'true' },
    });
    try {
      expect((await node.send({ streamId: uniqueStreamId('anon'), messageUuid: 'm', message: 1 })).status).toBe(200);
    } finally {
      await node.stop();
    }
  });
});
