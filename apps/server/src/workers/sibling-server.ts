import { EventEmitter, once } from 'node:events';
import { unlinkSync } from 'node:fs';
import type { IncomingHttpHeaders, OutgoingHttpHeader, OutgoingHttpHeaders, Server as HttpServer } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { AUTH_HEADER, GRANT_HEADER, HOP_HEADER, type BodySink, type DirectBody } from '../cluster/index.js';
import { answerFrame, CorkedWriter, FrameFields, FrameKind, FrameReader, signalFrame } from './sibling-frames.js';

/**
 * Beyond the body, what a forwarded request's path and headers may take in a frame. A forwarded body is the
 * bytes the client sent, read within http.bodyLimitBytes: only a longer frame is taken for a broken stream.
 */
const HEAD_ALLOWANCE_BYTES = 64 * 1024;

/**
 * Makes `http` also serve the requests its sibling workers forward over the channel at `socketPath` (a Unix
 * socket in the machine's private directory): each frame becomes a request emitted on `http` as if it had come
 * over HTTP, so it is served by the same code with the same checks (the forwarding worker's signature and
 * grant, the memory budget, validation) and answers; only the bytes of HTTP are skipped. Closed with `http`.
 */
export async function serveSiblings(http: HttpServer, socketPath: string, bodyLimitBytes: number): Promise<void> {
  // A worker that crashed left its socket file behind; the directory is the machine's alone (0700).
  try {
    unlinkSync(socketPath);
  } catch {
    // none left
  }
  const maxFrameBytes = bodyLimitBytes + HEAD_ALLOWANCE_BYTES;
  const sockets = new Set<Socket>();
  const channel = createServer((socket) => {
    sockets.add(socket);
    const link = new SiblingLink(http, socket, maxFrameBytes);
    socket.on('data', link.onData);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      sockets.delete(socket);
      link.closed();
    });
  });
  channel.listen(socketPath);
  await Promise.race([
    once(channel, 'listening'),
    once(channel, 'error').then(([err]) => {
      throw new Error(`cannot listen for sibling workers at ${socketPath}: ${(err as Error).message}`);
    }),
  ]);
  http.once('close', () => {
    channel.close();
    for (const socket of sockets) socket.destroy();
  });
}

/** One sibling's connection: the requests it forwarded that are still being served, by call id. */
class SiblingLink {
  private readonly serving = new Map<number, ForwardedRequest>();
  private readonly reader: FrameReader;
  private readonly writer: CorkedWriter;

  constructor(
    private readonly http: HttpServer,
    private readonly socket: Socket,
    maxFrameBytes: number,
  ) {
    this.writer = new CorkedWriter(socket);
    this.reader = new FrameReader(maxFrameBytes, this.onFrame, () => socket.destroy());
  }

  readonly onData = (chunk: Buffer): void => this.reader.push(chunk);

  private readonly onFrame = (frame: Buffer): void => {
    const fields = new FrameFields(frame);
    const id = fields.id;
    if (fields.kind === FrameKind.Cancel) {
      // No answer is owed any more (and the HTTP layer writes none for a request whose client has gone).
      const req = this.serving.get(id);
      this.serving.delete(id);
      req?.hangUp();
      return;
    }
    if (fields.kind !== FrameKind.Request) return;
    const method = fields.u8() === 0 ? 'GET' : 'POST';
    const hop = fields.u16();
    const url = fields.string();
    const grant = fields.string();
    const signature = fields.string();
    const body = fields.rest();
    // The headers a forward over HTTP would carry, always set in the same order (one object shape).
    const headers: IncomingHttpHeaders = {};
    headers[HOP_HEADER] = String(hop);
    if (grant !== '') headers[GRANT_HEADER] = grant;
    if (signature !== '') headers[AUTH_HEADER] = signature;
    if (method === 'POST') {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(body.length);
    }
    const req = new ForwardedRequest(method, url, headers, body);
    const res = new ForwardedResponse(this, id, req);
    this.serving.set(id, req);
    this.http.emit('request', req, res);
  };

  answer(id: number, frame: Buffer): void {
    if (this.serving.delete(id)) this.writer.write(frame);
  }

  /** The forwarding worker has gone: every request it was waiting on is hung up. */
  closed(): void {
    for (const req of this.serving.values()) req.hangUp();
    this.serving.clear();
  }

  get open(): boolean {
    return !this.socket.destroyed;
  }
}

/**
 * What the HTTP layer reads of a request (`IncomingMessage`'s fields, the body as `DirectBody`), for one forwarded
 * over the channel. It is its own `socket`: a cancel from the forwarding worker closes it, which is what a
 * parked long poll or blocked send listens to when its client hangs up.
 */
class ForwardedRequest extends EventEmitter implements DirectBody {
  readonly httpVersion = '1.1';
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor = 1;
  readonly socket = this;
  readonly remoteAddress = undefined;
  readonly complete = true;
  writable = true;
  destroyed = false;
  aborted = false;
  /** Its answer, told when the request is hung up before the answer was written (as a ServerResponse is). */
  response: ForwardedResponse | undefined;

  constructor(
    readonly method: string,
    readonly url: string,
    readonly headers: IncomingHttpHeaders,
    private readonly body: Buffer,
  ) {
    super();
  }

  /** The body, whole already: at once. */
  readBody(sink: BodySink): void {
    if (this.body.length > 0) sink.chunk(this.body);
    sink.end();
  }

  hangUp(): void {
    if (this.destroyed) return;
    this.writable = false;
    this.destroyed = true;
    this.aborted = true;
    this.emit('close');
    if (this.response !== undefined && !this.response.writableFinished) this.response.emit('close');
  }
}

/**
 * What the HTTP layer writes of an answer (`ServerResponse`'s header, write and end calls), turned into an
 * ANSWER frame at `end`: status, content type, Retry-After and body are what forwarding relays.
 */
class ForwardedResponse extends EventEmitter {
  statusCode = 200;
  statusMessage = '';
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  private readonly headers: OutgoingHttpHeaders = {};
  private chunks: (string | Buffer)[] | undefined;

  constructor(
    private readonly link: SiblingLink,
    private readonly id: number,
    readonly req: ForwardedRequest,
  ) {
    super();
    req.response = this;
  }

  get destroyed(): boolean {
    return this.req.destroyed || !this.link.open;
  }

  get socket(): ForwardedRequest {
    return this.req;
  }

  setHeader(name: string, value: OutgoingHttpHeader): this {
    this.headers[name.toLowerCase()] = value;
    return this;
  }

  getHeader(name: string): OutgoingHttpHeader | undefined {
    return this.headers[name.toLowerCase()];
  }

  getHeaders(): OutgoingHttpHeaders {
    return { ...this.headers };
  }

  getHeaderNames(): string[] {
    return Object.keys(this.headers);
  }

  hasHeader(name: string): boolean {
    return this.headers[name.toLowerCase()] !== undefined;
  }

  removeHeader(name: string): void {
    delete this.headers[name.toLowerCase()];
  }

  /** (The HTTP layer passes headers as an object, never as Node's flat array form.) */
  writeHead(statusCode: number, headers?: OutgoingHttpHeaders): this {
    this.statusCode = statusCode;
    if (headers !== undefined) for (const name in headers) this.setHeader(name, headers[name]!);
    this.headersSent = true;
    return this;
  }

  flushHeaders(): void {
    this.headersSent = true;
  }

  write(chunk: string | Buffer): boolean {
    this.headersSent = true;
    (this.chunks ??= []).push(chunk);
    return true;
  }

  end(chunk?: string | Buffer | null): this {
    if (this.writableEnded) return this;
    this.headersSent = true;
    this.writableEnded = true;
    let body: string | Buffer | undefined = chunk ?? undefined;
    if (this.chunks !== undefined) {
      if (body !== undefined) this.chunks.push(body);
      body = Buffer.concat(this.chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
    }
    const frame = answerFrame(
      this.id,
      this.statusCode,
      headerText(this.headers['content-type']),
      headerText(this.headers['retry-after']),
      body,
    );
    this.link.answer(this.id, frame);
    this.writableFinished = true;
    if (this.listenerCount('finish') > 0 || this.listenerCount('close') > 0) process.nextTick(finished, this);
    return this;
  }

  /** The answer broke off (the server gave up on it): the forwarding worker sees a reset. */
  destroy(): this {
    if (!this.writableEnded) {
      this.writableEnded = true;
      this.link.answer(this.id, signalFrame(FrameKind.Reset, this.id));
    }
    this.req.hangUp();
    return this;
  }
}

function finished(res: ForwardedResponse): void {
  res.emit('finish');
  res.emit('close');
}

function headerText(value: OutgoingHttpHeader | undefined): string {
  return value === undefined ? '' : Array.isArray(value) ? value.join(', ') : String(value);
}
