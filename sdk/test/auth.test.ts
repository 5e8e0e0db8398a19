// The `token` option against a real node with auth.mode jwt and real HS256 tokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken, TEST_JWT_SECRET } from '../../e2e/support/tokens.ts';
import { ForbiddenError, IPubSub, isForbiddenError, isUnauthorizedError, UnauthorizedError } from '../src/index.ts';
import { Servers, uniqueStream, type ServerProcess } from './support.ts';

const servers = new Servers();
let server: ServerProcess;
const SCOPES = { send: ['sdk-*'], receive: ['sdk-*'] };

beforeAll(async () => {
  server = await servers.start({ env: { IPUBSUB_AUTH_MODE: 'jwt', IPUBSUB_AUTH_JWT_SECRET: TEST_JWT_SECRET } });
});
afterAll(() => servers.stopAll());

describe('the token option', () => {
  it('sends a string token with every request; without one the server answers UnauthorizedError', async () => {
    const stream = uniqueStream();
    const client = new IPubSub({ baseUrl: server.url, token: await signToken(TEST_JWT_SECRET, SCOPES) });
    await client.send(stream, { n: 1 });
    expect((await client.receive(stream, { timeoutSeconds: 0 }))?.message).toEqual({ n: 1 });

    const anonymous = new IPubSub({ baseUrl: server.url });
    const error = await anonymous.send(stream, 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect(isUnauthorizedError(error)).toBe(true);
    expect(error).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
  });

  it('calls the function per request, and after a 401 once more with refresh: true, retrying once', async () => {
    const expired = await signToken(TEST_JWT_SECRET, SCOPES, { expiresIn: -60 });
    const fresh = await signToken(TEST_JWT_SECRET, SCOPES);
    const calls: boolean[] = [];
    let current = expired;
    const client = new IPubSub({
      baseUrl: server.url,
      token: async ({ refresh }) => {
        calls.push(refresh);
        if (refresh) current = fresh; // a real app would fetch a new token from its backend here
        return current;
      },
    });
    const stream = uniqueStream();
    await client.send(stream, 'after refresh');
    expect(calls).toEqual([false, true]);
    expect((await client.receive(stream, { timeoutSeconds: 0 }))?.message).toBe('after refresh');
    expect(calls).toEqual([false, true, false]);
  });

  it('rejects with UnauthorizedError when the refreshed token is refused too, after two calls', async () => {
    const expired = await signToken(TEST_JWT_SECRET, SCOPES, { expiresIn: -60 });
    let calls = 0;
    const client = new IPubSub({ baseUrl: server.url, token: () => (calls++, expired) });
    const error = await client.send(uniqueStream(), 1).catch((e: unknown) => e);
    expect(isUnauthorizedError(error)).toBe(true);
    expect(calls).toBe(2);
  });

  it('rejects with ForbiddenError outside the scopes, and a subscription ends with it instead of retrying', async () => {
    const client = new IPubSub({ baseUrl: server.url, token: await signToken(TEST_JWT_SECRET, { send: ['sdk-*'] }) });
    const error = await client.send('elsewhere', 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error).toMatchObject({ status: 403, code: 'FORBIDDEN' });

    const retries: unknown[] = [];
    const reader = new IPubSub({
      baseUrl: server.url,
      token: await signToken(TEST_JWT_SECRET, { receive: ['sdk-*'] }),
      retry: { onRetry: (e) => retries.push(e) },
    });
    const ended = (async () => {
      for await (const message of reader.subscribe('not-mine', { timeoutSeconds: 5 })) return message;
    })();
    const failure = await ended.catch((e: unknown) => e);
    expect(isForbiddenError(failure)).toBe(true);
    expect(retries).toEqual([]);
  });
});
