import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestDurations } from '../observability/index.js';
import { SiblingChannel } from '../workers/index.js';
import { DataPlane } from './data-plane.js';
import { MAX_JSON_DEPTH } from './json-body.js';
import { ParserBodyRequest } from './parser-body.js';
import { Validation } from './validation.js';

const PREFIX = '/api/test/';
const BODY_LIMIT = 1024;

/** A data plane on a real node:http server, with routes that echo what they were given. */
describe('the data plane', () => {
  const durations = new RequestDurations();
  const logged: unknown[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
  const plane = new DataPlane(PREFIX, { validation: new Validation(), bodyLimitBytes: BODY_LIMIT, logger });
  const bodies: unknown[] = [];
  plane.add({
    method: 'POST',
    path: `${PREFIX}echo`,
    body: Type.Object({ a: Type.Optional(Type.Unknown()), b: Type.Optional(Type.String()) }),
    answer: Type.Object({ echoed: Type.Unknown() }),
    latency: durations.route(`${PREFIX}echo`),
    serve: (request, reply) => {
      bodies.push(request.body);
      reply.code(200).send({ echoed: request.body, dropped: 'not in the answer schema' });
    },
  });
  plane.add({
    method: 'GET',
    path: `${PREFIX}query`,
    query: Type.Object({ n: Type.Integer(), flag: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
    latency: durations.route(`${PREFIX}query`),
    serve: (request, reply) => void reply.code(200).send(JSON.stringify(request.query)),
  });
  plane.add({
    method: 'GET',
    path: `${PREFIX}throws`,
    latency: undefined,
    serve: () => {
      throw new Error('a bug');
    },
  });
  plane.add({
    method: 'GET',
    path: `${PREFIX}rejects`,
    latency: undefined,
    serve: () => Promise.reject(new Error('an async bug')),
  });
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = createServer({ IncomingMessage: ParserBodyRequest }, (req, res) => {
      if (!plane.serve(req, res, performance.now())) res.writeHead(418).end('not the data plane');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`http://127.0.0.1:${port}${PREFIX}echo`, { method: 'POST', headers, body });
  const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);

  it('keeps __proto__, constructor and prototype as plain keys and pollutes no prototype', async () => {
    const json = '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"a":[{"__proto__":[]}]}';
    const res = await post(`{"a":${json}}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`{"echoed":{"a":${json}}}`);
    const body = (bodies.at(-1) as { a: Record<string, unknown> }).a;
    expect(Object.getPrototypeOf(body)).toBe(Object.prototype);
    expect(Object.keys(body)).toEqual(['__proto__', 'constructor', 'a']);
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('refuses a body nested deeper than its answers could be written, and takes one at the limit', async () => {
    const at = (depth: number): string => `{"a":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
    expect((await post(at(MAX_JSON_DEPTH))).status).toBe(200);
    const deep = await post(at(MAX_JSON_DEPTH + 1));
    expect(deep.status).toBe(400);
    expect(await deep.json()).toEqual({
      error: `body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`,
      code: 'INVALID_REQUEST',
    });
  });

  it('answers {error, code} for invalid JSON, a body off its schema, another media type', async () => {
    expect(await (await post('{"a":')).json()).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(await (await post('')).json()).toMatchObject({ code: 'INVALID_REQUEST' });
    const off = await post('{"b":5}');
    expect(off.status).toBe(400);
    expect(await off.json()).toEqual({ error: 'body/b must be string', code: 'INVALID_REQUEST' });
    const text = await post('{"b":"x"}', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect(await text.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect((await post('{"b":"x"}', { 'content-type': 'Application/JSON; charset=utf-8' })).status).toBe(200);
  });

  it('refuses a body over the limit, by its content-length or as it streams in, and closes the connection', async () => {
    const declared = await post(JSON.stringify({ b: 'x'.repeat(BODY_LIMIT) }));
    expect(declared.status).toBe(413);
    expect(declared.headers.get('connection')).toBe('close');
    expect(await declared.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    const chunked = await chunkedPost(port, `${PREFIX}echo`, [`{"b":"${'x'.repeat(600)}`, `${'x'.repeat(600)}"}`]);
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    const small = await chunkedPost(port, `${PREFIX}echo`, ['{"b":', '"chunked"}']);
    expect(small.status).toBe(200);
    expect(JSON.parse(small.body)).toEqual({ echoed: { b: 'chunked' } });
  });

  it('validates a body a sibling worker forwarded as it validates one read from HTTP', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'ipubsub-plane-'));
    const owner = join(directory, 'w2.sock');
    await new SiblingChannel(new Map(), owner).listen(server, BODY_LIMIT);
    const channel = new SiblingChannel(new Map([['http://owner', owner]]), join(directory, 'w1.sock'));
    const forward = async (body: string) => {
      const call = { method: 'POST' as const, path: `${PREFIX}echo`, hop: 1, body: Buffer.from(body), timeoutMs: 5000 };
      const answer = await channel.request('http://owner', call, '');
      return [answer.status, JSON.parse(answer.body.toString()) as unknown];
    };
    try {
      expect(await forward('{"b":"whole"}')).toEqual([200, { echoed: { b: 'whole' } }]);
      expect(await forward('{"b":5}')).toEqual([400, { error: 'body/b must be string', code: 'INVALID_REQUEST' }]);
      expect((await forward('{"a":'))[0]).toBe(400);
      const tooLarge = await forward(JSON.stringify({ b: 'x'.repeat(BODY_LIMIT) }));
      expect(tooLarge).toEqual([413, { error: 'request body too large', code: 'PAYLOAD_TOO_LARGE' }]);
    } finally {
      channel.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('coerces query parameters by the schema and refuses unknown or repeated ones', async () => {
    const res = await get(`${PREFIX}query?n=5&flag=true`);
    expect(await res.json()).toEqual({ n: 5, flag: true });
    expect(await (await get(`${PREFIX}query?n=five`)).json()).toEqual({
      error: 'query/n must be integer',
      code: 'INVALID_REQUEST',
    });
    expect((await get(`${PREFIX}query?n=1&other=2`)).status).toBe(400);
    expect((await get(`${PREFIX}query?n=1&n=2`)).status).toBe(400);
  });

  it('answers 404 under its prefix, for another method too, and leaves other paths alone', async () => {
    expect(await (await get(`${PREFIX}nope`)).json()).toEqual({ error: 'no such route', code: 'NOT_FOUND' });
    expect((await get(`${PREFIX}echo`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}${PREFIX}query?n=1`, { method: 'HEAD' })).status).toBe(404);
    expect((await get('/elsewhere')).status).toBe(418);
  });

  it('answers a handler that throws or rejects with 500 INTERNAL, without details, and logs it', async () => {
    for (const path of ['throws', 'rejects']) {
      const res = await get(`${PREFIX}${path}`);
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: 'internal error', code: 'INTERNAL' });
    }
    expect(logged).toHaveLength(2);
    expect(JSON.stringify(logged)).toContain('an async bug');
  });

  it('records the latency of each answer by route and status', async () => {
    const before = await durations.get();
    const count = (values: typeof before.values, status: number) =>
      values.find(
        (v) => v.metricName.endsWith('_count') && v.labels.route === `${PREFIX}query` && v.labels.status === status,
      )?.value ?? 0;
    await get(`${PREFIX}query?n=1`);
    await get(`${PREFIX}query?n=x`);
    const after = await durations.get();
    expect(count(after.values, 200) - count(before.values, 200)).toBe(1);
    expect(count(after.values, 400) - count(before.values, 400)).toBe(1);
  });
});

/** A POST whose body goes in chunks (no content-length), as a streaming client sends it. */
async function chunkedPost(port: number, path: string, chunks: string[]): Promise<{ status: number; body: string }> {
  const req = httpRequest({
    port,
    host: '127.0.0.1',
    path,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
  });
  for (const chunk of chunks) req.write(chunk);
  req.end();
  const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
  let body = '';
  for await (const chunk of res) body += String(chunk);
  return { status: res.statusCode!, body };
}
