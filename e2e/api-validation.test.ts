import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, uniqueStreamId } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';

/** docs/contract.md §4: every client mistake is a 4xx `{error, code}`, never a 5xx, and harms no other stream. */

const MAX_TIMEOUT_SECONDS = 10;
const MAX_STREAM_SIZE = 1_000;
let server: ServerProcess;
const bystander = uniqueStreamId('bystander');

beforeAll(async () => {
  server = await ServerProcess.start({
    env: {
      IPUBSUB_LIMITS_MAXTIMEOUTSECONDS: String(MAX_TIMEOUT_SECONDS),
      IPUBSUB_LIMITS_MAXINMEMORYSTREAMSIZE: String(MAX_STREAM_SIZE),
    },
  });
  expect((await server.send({ streamId: bystander, messageUuid: 'kept', message: { intact: true } })).status).toBe(200);
});

afterAll(async () => {
  await server?.stop();
});

const valid = { streamId: 'valid', messageUuid: 'm1', message: 'x' };

function postRaw(body: string, contentType = 'application/json'): Promise<Response> {
  return fetch(`${server.url}/api/v1/streams/send`, { method: 'POST', headers: { 'content-type': contentType }, body });
}

describe('send: 400 INVALID_REQUEST', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['streamId with a space', { ...valid, streamId: 'a b' }],
    ['streamId with a disallowed character', { ...valid, streamId: 'a#b' }],
    ['streamId with non-ASCII letters', { ...valid, streamId: 'straße' }],
    ['empty streamId', { ...valid, streamId: '' }],
    ['streamId of 257 characters', { ...valid, streamId: 'x'.repeat(257) }],
    ['streamId not a string', { ...valid, streamId: 5 }],
    ['missing streamId', { messageUuid: 'm1', message: 'x' }],
    ['missing messageUuid', { streamId: 'valid', message: 'x' }],
    ['empty messageUuid', { ...valid, messageUuid: '' }],
    ['messageUuid of 129 characters', { ...valid, messageUuid: 'u'.repeat(129) }],
    ['messageUuid not a string', { ...valid, messageUuid: 42 }],
    ['missing message', { streamId: 'valid', messageUuid: 'm1' }],
    ['unknown field', { ...valid, writeToDb: true }],
    ['inMemoryStreamSize as a string', { ...valid, inMemoryStreamSize: '5' }],
    ['inMemoryStreamSize not an integer', { ...valid, inMemoryStreamSize: 1.5 }],
    ['negative inMemoryStreamSize', { ...valid, inMemoryStreamSize: -1 }],
    ['inMemoryStreamSize over the configured maximum', { ...valid, inMemoryStreamSize: MAX_STREAM_SIZE + 1 }],
    ['inMemoryStreamSize 0 without blocking', { ...valid, inMemoryStreamSize: 0 }],
    ['negative blockingSendTimeoutSeconds', { ...valid, blockingSendTimeoutSeconds: -1 }],
    ['blockingSendTimeoutSeconds as a boolean', { ...valid, blockingSendTimeoutSeconds: true }],
    [
      'blockingSendTimeoutSeconds over the configured maximum',
      { ...valid, blockingSendTimeoutSeconds: MAX_TIMEOUT_SECONDS + 1 },
    ],
    ['writeToDB as a string', { ...valid, writeToDB: 'yes' }],
    ['dbTTLSeconds 0', { ...valid, dbTTLSeconds: 0 }],
    ['negative dbTTLSeconds', { ...valid, dbTTLSeconds: -5 }],
  ];

  it.each(cases)('%s', async (_, body) => {
    await expectError(await server.send(body), 400, 'INVALID_REQUEST');
  });

  it.each([
    ['invalid JSON', '{"streamId": "a",'],
    ['an empty body', ''],
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
    ['a JSON number', '5'],
  ])('%s', async (_, raw) => {
    await expectError(await postRaw(raw), 400, 'INVALID_REQUEST');
  });

  it('a body that is not JSON is a 4xx with a code', async () => {
    const res = await postRaw('streamId=a', 'text/plain');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const body = (await res.json()) as { error: string; code: string };
    expect(body.code).toMatch(/^(INVALID_REQUEST|UNSUPPORTED_MEDIA_TYPE)$/);
  });

  it('names what is wrong', async () => {
    const { error } = await expectError(await server.send({ ...valid, streamId: 'a b' }), 400, 'INVALID_REQUEST');
    expect(error).toContain('streamId');
    const missing = await expectError(
      await server.send({ streamId: 'valid', messageUuid: 'm1' }),
      400,
      'INVALID_REQUEST',
    );
    expect(missing.error).toContain('message');
  });

  it('accepts the boundaries: streamId of 256, messageUuid of 128, the largest allowed values', async () => {
    const res = await server.send({
      streamId: 'y'.repeat(256),
      messageUuid: 'u'.repeat(128),
      message: null,
      inMemoryStreamSize: MAX_STREAM_SIZE,
      blockingSendTimeoutSeconds: MAX_TIMEOUT_SECONDS,
    });
    expect(res.status, await res.text()).toBe(200);
  });
});

describe('receive: 400 INVALID_REQUEST', () => {
  const cases: [string, Record<string, string | number>][] = [
    ['missing streamId', { timeoutSeconds: 0 }],
    ['empty streamId', { streamId: '', timeoutSeconds: 0 }],
    ['streamId with a disallowed character', { streamId: 'a b', timeoutSeconds: 0 }],
    ['streamId of 257 characters', { streamId: 'x'.repeat(257), timeoutSeconds: 0 }],
    ['negative timeoutSeconds', { streamId: 'valid', timeoutSeconds: -1 }],
    ['timeoutSeconds not a number', { streamId: 'valid', timeoutSeconds: 'soon' }],
    ['timeoutSeconds not an integer', { streamId: 'valid', timeoutSeconds: 1.5 }],
    ['timeoutSeconds over the configured maximum', { streamId: 'valid', timeoutSeconds: MAX_TIMEOUT_SECONDS + 1 }],
    ['maxMessages 0', { streamId: 'valid', timeoutSeconds: 0, maxMessages: 0 }],
    ['maxMessages over 1000', { streamId: 'valid', timeoutSeconds: 0, maxMessages: 1001 }],
    ['unknown parameter', { streamId: 'valid', timeoutSeconds: 0, timeout: 5 }],
  ];

  it.each(cases)('%s', async (_, query) => {
    await expectError(await server.receive(query), 400, 'INVALID_REQUEST');
  });

  it('a repeated streamId parameter', async () => {
    const res = await fetch(`${server.url}/api/v1/streams/receive?streamId=a&streamId=b&timeoutSeconds=0`);
    await expectError(res, 400, 'INVALID_REQUEST');
  });
});

describe('other errors', () => {
  it('answers a body over 1 MiB with 413 JSON', async () => {
    const message = 'a'.repeat(1024 * 1024 + 1);
    await expectError(
      await server.send({ streamId: uniqueStreamId('big'), messageUuid: 'm1', message }),
      413,
      'PAYLOAD_TOO_LARGE',
    );
  });

  it('accepts and delivers intact a body just under 1 MiB', async () => {
    const streamId = uniqueStreamId('large');
    const message = 'b'.repeat(1024 * 1024 - 200);
    expect((await server.send({ streamId, messageUuid: 'm1', message })).status).toBe(200);
    const res = await server.receive({ streamId, timeoutSeconds: 0 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { message: string }).message).toBe(message);
  });

  it('answers an unknown route with 404 JSON', async () => {
    await expectError(await fetch(`${server.url}/api/v1/streams/nope`), 404, 'NOT_FOUND');
    await expectError(await fetch(`${server.url}/`), 404, 'NOT_FOUND');
  });

  it('answers a wrong method with a 4xx JSON error', async () => {
    const res = await fetch(`${server.url}/api/v1/streams/send`);
    expect([404, 405]).toContain(res.status);
    expect(((await res.json()) as { code: string }).code).toMatch(/^(NOT_FOUND|METHOD_NOT_ALLOWED)$/);
  });
});

/** Writes raw bytes on a new connection and reads the answer to the end: the server must close the connection. */
async function rawExchange(request: string): Promise<Response> {
  const socket = connect(server.port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.write(request);
  await once(socket, 'close');
  const text = Buffer.concat(chunks).toString('utf8');
  const [head, body] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
  const [statusLine, ...headerLines] = head.split('\r\n');
  const headers = headerLines.map(
    (line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()] as [string, string],
  );
  return new Response(body, { status: Number(statusLine.split(' ')[1]), headers });
}

describe('requests Node cannot parse: JSON errors, and the connection closed', () => {
  const HUGE = 'x'.repeat(20 * 1024); // over Node's 16 KiB limit for the request line and headers

  it('answers a receive URL over the header size limit with 431 REQUEST_HEADERS_TOO_LARGE', async () => {
    const res = await fetch(`${server.url}/api/v1/streams/receive?streamId=${HUGE}&timeoutSeconds=0`);
    expect(res.headers.get('connection')).toBe('close');
    await expectError(res, 431, 'REQUEST_HEADERS_TOO_LARGE');
  });

  it('answers an oversized header on any route (health) the same way', async () => {
    const res = await rawExchange(`GET /health HTTP/1.1\r\nhost: localhost\r\nx-padding: ${HUGE}\r\n\r\n`);
    expect(res.headers.get('connection')).toBe('close');
    await expectError(res, 431, 'REQUEST_HEADERS_TOO_LARGE');
  });

  it('answers a malformed request line with 400 INVALID_REQUEST', async () => {
    const res = await rawExchange('NOT AN HTTP REQUEST\r\n\r\n');
    expect(res.headers.get('connection')).toBe('close');
    await expectError(res, 400, 'INVALID_REQUEST');
  });
});

describe('after all of the above', () => {
  it('the node is alive and no other stream lost or changed data', async () => {
    expect(server.exited).toBe(false);
    const res = await server.receive({ streamId: bystander, timeoutSeconds: 0 });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ messageUuid: 'kept', message: { intact: true } });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).not.toMatch(/status="5\d\d"/);
  });
});
