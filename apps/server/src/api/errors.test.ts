import { ERROR_STATUS } from '@ipubsub/sdk/wire';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../domain-error.js';
import { StoreUnavailableError } from '../store/index.js';
import { MemoryFullError } from '../streams/index.js';
import { classifyError, sendError, sendRefusal } from './errors.js';

/** Lines the logger wrote, so that a test can see a bug logged (and a refusal not). */
const logged: string[] = [];
const logger = pino({ level: 'error' }, { write: (line: string) => void logged.push(line) });

describe('errors raised below the api layer, answered as {error, code}', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = Fastify();
    app.setErrorHandler((error, _request, reply) => {
      const [code, message] = classifyError(error, logger);
      void sendError(reply, code, message);
    });
    app.get('/memory-full', () => {
      throw new MemoryFullError('no room for 10 bytes of handed-over messages');
    });
    app.get('/store-unavailable', async () => {
      await Promise.resolve();
      throw new StoreUnavailableError('message store overloaded: too many sends waiting for a commit');
    });
    app.get('/refused', (_request, reply) =>
      sendRefusal(reply, new DomainError('OWNER_UNAVAILABLE', 'the owner of stream s did not answer; retry')),
    );
    app.get('/bug', () => {
      throw new TypeError('secret internals');
    });
    app.post('/validated', { schema: { body: { type: 'object', required: ['streamId'] } } }, () => ({ ok: true }));
    await app.ready();
  });

  afterAll(() => app.close());

  it('answers a domain error with the status its code is registered with, and its message', async () => {
    const full = await app.inject({ method: 'GET', url: '/memory-full' });
    expect(full.statusCode).toBe(ERROR_STATUS.MEMORY_FULL);
    expect(full.json()).toEqual({ code: 'MEMORY_FULL', error: 'no room for 10 bytes of handed-over messages' });

    const store = await app.inject({ method: 'GET', url: '/store-unavailable' });
    expect(store.statusCode).toBe(503);
    expect(store.json()).toEqual({
      code: 'STORE_UNAVAILABLE',
      error: 'message store overloaded: too many sends waiting for a commit',
    });

    const refused = await app.inject({ method: 'GET', url: '/refused' });
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toEqual({
      code: 'OWNER_UNAVAILABLE',
      error: 'the owner of stream s did not answer; retry',
    });
    expect(logged).toEqual([]);
  });

  it("answers Fastify's validation errors 400 INVALID_REQUEST", async () => {
    const invalid = await app.inject({ method: 'POST', url: '/validated', payload: {} });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(invalid.json<{ error: string }>().error).toContain('streamId');
  });

  it('answers anything else 500 INTERNAL without its details, and logs it', async () => {
    const bug = await app.inject({ method: 'GET', url: '/bug' });
    expect(bug.statusCode).toBe(500);
    expect(bug.json()).toEqual({ code: 'INTERNAL', error: 'internal error' });
    expect(logged.join('')).toContain('secret internals');
  });
});
