import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from './config/index.js';
import { MAX_JSON_DEPTH } from './api/json-body.js';
import { createStreamApi } from './http-setup.js';

/** The stream API's JSON body parser, in this process, so Object.prototype can be looked at directly. */
describe('JSON bodies of the stream API', () => {
  const api = createStreamApi(loadConfig(undefined, {}));
  const bodies: unknown[] = [];
  api.post('/echo', async (req) => {
    bodies.push(req.body);
    return JSON.stringify(req.body);
  });
  afterAll(() => api.close());

  it('keeps __proto__, constructor and prototype as plain keys and pollutes no prototype', async () => {
    const json = '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"a":[{"__proto__":[]}]}';
    const res = await api.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: json,
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(json);
    const body = bodies[0] as Record<string, unknown>;
    expect(Object.getPrototypeOf(body)).toBe(Object.prototype);
    expect(Object.keys(body)).toEqual(['__proto__', 'constructor', 'a']);
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  });

  it('refuses a body nested deeper than its answers could be written, and takes one at the limit', async () => {
    const at = (depth: number): string => `{"a":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
    const post = (payload: string) =>
      api.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload });
    expect((await post(at(MAX_JSON_DEPTH))).statusCode).toBe(200);
    const deep = await post(at(MAX_JSON_DEPTH + 1));
    expect(deep.statusCode).toBe(400);
    expect(deep.json()).toMatchObject({
      message: `body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`,
    });
  });
});
