import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { secondsSince, type RouteDurations } from '../observability/index.js';

/** The content type of every JSON answer. */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** One request of the stream API: the parsed query and body (once they passed their schema) beside the raw request. */
export class StreamRequest {
  readonly headers: IncomingHttpHeaders;
  readonly method: string;
  readonly url: string;
  /** The body as the client sent it (POST routes): what a forward passes on, byte for byte. */
  rawBody: Buffer | undefined = undefined;

  constructor(
    readonly raw: IncomingMessage,
    /** When it reached the node (`performance.now()`), for the latency metric. */
    readonly arrivedAt: number,
    /** The query string's parameters, numbers and booleans coerced by the route's schema. */
    public query: unknown,
    /** The JSON body (POST routes), undefined until it has been read. */
    public body: unknown,
  ) {
    this.headers = raw.headers;
    this.method = raw.method!;
    this.url = raw.url!;
  }
}

/** What an answer needs from its route. */
export interface AnswerWriter {
  /** The route's latency series, recorded as each answer is written (undefined: not recorded). */
  readonly durations: RouteDurations | undefined;
  /** An object answer as JSON, by its status, with the serializer compiled from the route's wire schema. */
  serialize(status: number, payload: object): string;
  /** A failure a handler did not answer (a bug): answered 500 and logged. */
  fail(reply: StreamReply, err: Error): void;
}

/**
 * The answer to a `StreamRequest`, written on node:http directly: a status, a few headers and one body, in one
 * `writeHead` and one `end` (a single `writev`). Objects are serialized with the route's response schema.
 */
export class StreamReply {
  statusCode = 200;
  /** Answered (or taken over by `hijack`): anything sent later is ignored. */
  sent = false;
  private contentType: string | undefined = undefined;

  constructor(
    readonly raw: ServerResponse,
    readonly request: StreamRequest,
    private readonly writer: AnswerWriter,
  ) {}

  code(status: number): this {
    this.statusCode = status;
    return this;
  }

  header(name: string, value: string | number): this {
    if (name === 'content-type') this.contentType = String(value);
    else this.raw.setHeader(name, value);
    return this;
  }

  type(contentType: string): this {
    this.contentType = contentType;
    return this;
  }

  /** A string or Buffer goes as it is (JSON unless `type` said otherwise); an object through the route's serializer. */
  send(payload: string | Buffer | object | Error): this {
    if (this.sent) return this;
    if (payload instanceof Error) {
      this.writer.fail(this, payload);
      return this;
    }
    const body =
      typeof payload === 'string' || Buffer.isBuffer(payload)
        ? payload
        : this.writer.serialize(this.statusCode, payload);
    this.sent = true;
    this.raw.writeHead(this.statusCode, {
      'content-type': this.contentType ?? JSON_CONTENT_TYPE,
      'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
    });
    this.raw.end(body);
    this.writer.durations?.record(this.statusCode, secondsSince(this.request.arrivedAt));
    return this;
  }

  /** The handler writes to `raw` itself (a live tail's event stream). */
  hijack(): void {
    this.sent = true;
  }
}
