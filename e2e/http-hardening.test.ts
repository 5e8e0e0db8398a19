import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, scrapeMetrics, uniqueStreamId, waitForGauge } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';

/**
 * Node's own limits on the connections (http.headersTimeoutSeconds, http.requestTimeoutSeconds,
 * http.maxConnections), set low here: a slow client cannot hold a socket, a long poll still waits its full
 * timeoutSeconds, and connections beyond the limit are closed.
 */

const MAX_CONNECTIONS = 4;
let server: ServerProcess;

beforeAll(async () => {
  server = await ServerProcess.start({
    env: {
      IPUBSUB_HTTP_HEADERSTIMEOUTSECONDS: '1',
      IPUBSUB_HTTP_REQUESTTIMEOUTSECONDS: '2',
      IPUBSUB_HTTP_MAXCONNECTIONS: String(MAX_CONNECTIONS),
    },
  });
});

afterAll(async () => {
  await server?.stop();
});

async function openSocket(): Promise<Socket> {
  const socket = connect(server.port, '127.0.0.1');
  // A connection the server closes may reset: seen as its 'close'.
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/** Everything the server writes to `socket` until it closes the connection. */
function readUntilClosed(socket: Socket): Promise<string> {
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  return new Promise((resolve) => socket.once('close', () => resolve(text)));
}

describe('slow clients', () => {
  it('closes a connection whose headers do not arrive in time, with a 408 REQUEST_TIMEOUT', async () => {
    const socket = await openSocket();
    const answer = readUntilClosed(socket);
    socket.write('POST /api/v1/streams/send HTTP/1.1\r\nhost: 127.0.0.1\r\n');
    const text = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(text).toContain('"code":"REQUEST_TIMEOUT"');
  });

  it('closes a connection whose body does not arrive in time', async () => {
    const socket = await openSocket();
    const answer = readUntilClosed(socket);
    socket.write(
      'POST /api/v1/streams/send HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n' +
        'content-length: 100\r\n\r\n{"streamId":',
    );
    expect(await answer).toContain('"code":"REQUEST_TIMEOUT"');
  });

  it('lets a long poll wait its full timeoutSeconds, past the request timeout', async () => {
    const res = await server.receive({ streamId: uniqueStreamId('long-poll'), timeoutSeconds: 4 });
    await expectError(res, 424, 'NO_MESSAGE');
  });
});

describe('connection limit', () => {
  it('closes connections beyond http.maxConnections and counts the open ones', async () => {
    // The test's own keep-alive connections (fetch) are among them.
    const before = (await scrapeMetrics(server)).get('ipubsub_open_connections')!;
    expect(before).toBeGreaterThanOrEqual(1);
    const held = await Promise.all(Array.from({ length: MAX_CONNECTIONS - before }, openSocket));
    await waitForGauge(server, 'ipubsub_open_connections', MAX_CONNECTIONS);
    const beyond = await openSocket();
    const answer = readUntilClosed(beyond);
    beyond.write('GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    expect(await answer).toBe('');
    for (const socket of held) socket.destroy();
    await waitForGauge(server, 'ipubsub_open_connections', before);
  });
});
