import { once } from 'node:events';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_BODY, ParserBodyRequest } from './parser-body.js';

/** One keep-alive connection's worth of requests, each answered with what the server read of its body. */
describe('ParserBodyRequest', () => {
  let server: Server;
  let port: number;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });

  beforeAll(async () => {
    server = createServer({ IncomingMessage: ParserBodyRequest }, (req, res) => {
      const answer = (text: string) => res.writeHead(200, { 'content-type': 'text/plain' }).end(text);
      if (req.url === '/direct') {
        const chunks: string[] = [];
        req.readBody({
          chunk: (bytes) => chunks.push(bytes.toString()),
          end: () => answer(`${chunks.join('|')}${req.readableEnded ? '' : ' (not ended)'}`),
        });
      } else if (req.url === '/none') {
        req.readBody(NO_BODY);
        answer('none');
      } else {
        // Not taken directly: an ordinary IncomingMessage, read as a stream.
        let text = '';
        req.on('data', (bytes: Buffer) => (text += bytes.toString()));
        req.on('end', () => answer(`stream:${text}${req.readableEnded ? '' : ' (not ended)'}`));
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    agent.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Sends `pieces` one write apart (chunked), on the shared connection; resolves to the answer and its socket. */
  async function post(path: string, pieces: string[]): Promise<{ text: string; socket: unknown }> {
    const req = request({ port, host: '127.0.0.1', path, method: 'POST', agent });
    // Listening from the start: a server that does not read the body may answer before it is all sent.
    const answered = once(req, 'response');
    for (const piece of pieces) {
      req.write(piece);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    req.end();
    const [res] = await answered;
    let text = '';
    for await (const bytes of res) text += String(bytes);
    return { text, socket: req.socket };
  }

  it('hands the body to the sink as the parser reads it, then its end (readableEnded), and the connection serves on', async () => {
    const first = await post('/direct', ['{"a":', '1}']);
    expect(first.text).toBe('{"a":|1}');
    const second = await post('/direct', ['x']);
    expect(second).toEqual({ text: 'x', socket: first.socket });
  });

  it('drops the body of a request given NO_BODY, and the next request on the connection is read whole', async () => {
    const dropped = await post('/none', ['ignored', 'bytes']);
    expect(dropped.text).toBe('none');
    expect(await post('/direct', ['after'])).toEqual({ text: 'after', socket: dropped.socket });
  });

  it('is an ordinary request, read as a stream, until readBody is called', async () => {
    expect((await post('/stream', ['a', 'b'])).text).toBe('stream:ab');
    expect((await post('/direct', ['c'])).text).toBe('c');
  });
});
