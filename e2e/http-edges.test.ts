import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueStreamId, waitForWaiters } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';

/**
 * HTTP-level edges of the stream API. Pipelining: several long polls written back to back on one connection;
 * Node answers them in order, so the server must park every one of them (not only the first), answer each
 * when its message comes, and release them all when the client hangs up. HEAD: a receive without a body to
 * carry the message must not take it.
 */

let server: ServerProcess;

beforeAll(async () => {
  server = await ServerProcess.start();
});

afterAll(async () => {
  await server?.stop();
});

async function pipelineReceives(streamIds: readonly string[]): Promise<{ socket: Socket; bodies: Promise<string[]> }> {
  const socket = connect(server.port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    streamIds
      .map((id) => `GET /api/v1/streams/receive?streamId=${id}&timeoutSeconds=10 HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`)
      .join(''),
  );
  const bodies = new Promise<string[]>((resolve) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const answers = splitResponses(text);
      if (answers.length === streamIds.length) resolve(answers);
    });
  });
  return { socket, bodies };
}

/** The bodies of the complete HTTP responses at the start of `text`, in order. */
function splitResponses(text: string): string[] {
  const bodies: string[] = [];
  let offset = 0;
  for (;;) {
    const headEnd = text.indexOf('\r\n\r\n', offset);
    if (headEnd < 0) return bodies;
    const length = Number(/content-length: *(\d+)/i.exec(text.slice(offset, headEnd))?.[1]);
    const end = headEnd + 4 + length;
    if (end > text.length) return bodies;
    bodies.push(text.slice(headEnd + 4, end));
    offset = end;
  }
}

describe('pipelined long polls', () => {
  it('parks every one and answers them in request order as their messages arrive', async () => {
    const streams = [0, 1, 2].map((i) => uniqueStreamId(`pipe${i}`));
    const { socket, bodies } = await pipelineReceives(streams);
    await waitForWaiters(server, 3);
    for (const streamId of [...streams].reverse()) {
      expect((await server.send({ streamId, messageUuid: 'm', message: streamId })).status).toBe(200);
    }
    expect((await bodies).map((body) => (JSON.parse(body) as { message: unknown }).message)).toEqual(streams);
    socket.destroy();
  });

  it('releases every waiter of a connection that hangs up, and loses no message', async () => {
    const streams = [0, 1].map((i) => uniqueStreamId(`gone${i}`));
    const { socket } = await pipelineReceives(streams);
    await waitForWaiters(server, 2);
    socket.destroy();
    await waitForWaiters(server, 0);
    await server.send({ streamId: streams[1], messageUuid: 'm', message: 'kept' });
    const res = await server.receive({ streamId: streams[1], timeoutSeconds: 0 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { message: unknown }).message).toBe('kept');
  });

  it('releases a poll parked after earlier ones on the same connection were answered', async () => {
    const [first, second] = [0, 1].map((i) => uniqueStreamId(`again${i}`));
    const { socket, bodies } = await pipelineReceives([first]);
    await waitForWaiters(server, 1);
    await server.send({ streamId: first, messageUuid: 'm', message: 'taken' });
    expect(JSON.parse((await bodies)[0])).toMatchObject({ message: 'taken' });
    socket.write(
      `GET /api/v1/streams/receive?streamId=${second}&timeoutSeconds=10 HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`,
    );
    await waitForWaiters(server, 1);
    socket.destroy();
    await waitForWaiters(server, 0);
    await server.send({ streamId: second, messageUuid: 'm', message: 'kept' });
    const res = await server.receive({ streamId: second, timeoutSeconds: 0 });
    expect(((await res.json()) as { message: unknown }).message).toBe('kept');
  });
});

describe('HEAD on the stream API', () => {
  it('is not a receive: 404, and the message stays for the next GET', async () => {
    const streamId = uniqueStreamId('head');
    await server.send({ streamId, messageUuid: 'm', message: 'kept' });
    const head = await fetch(`${server.url}/api/v1/streams/receive?streamId=${streamId}&timeoutSeconds=0`, {
      method: 'HEAD',
    });
    expect(head.status).toBe(404);
    const res = await server.receive({ streamId, timeoutSeconds: 0 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { message: unknown }).message).toBe('kept');
  });
});
