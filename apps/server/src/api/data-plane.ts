import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorResponse, type ErrorCode } from '@ipubsub/sdk/wire';
import type { Static, TSchema } from '@sinclair/typebox';
import type { ValidateFunction } from 'ajv';
import fastJson from 'fast-json-stringify';
import { parse as parseQuery } from 'fast-querystring';
import type { Logger } from 'pino';
import type { RouteDurations } from '../observability/index.js';
import type { BodySink, DirectBody } from '../cluster/index.js';
import { DomainError } from '../domain-error.js';
import { sendError, sendRefusal } from './errors.js';
import { StreamReply, StreamRequest, type AnswerWriter } from './exchange.js';
import { parseJson } from './json-body.js';
import { NO_BODY } from './parser-body.js';
import { describeInvalid, type Validation } from './validation.js';

/**
 * One route of the data plane. Its query and body have passed their schemas when `serve` is called;
 * `serve` answers through the reply (a long poll may end without an answer when its client has gone).
 */
export interface DataRoute {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** The query string's schema (coerced: it is text); parameters not in it are refused. */
  readonly query?: TSchema;
  /** The JSON body's schema (strict); a POST route has one. */
  readonly body?: TSchema;
  /** The schema of a 200 answer given as an object (errors always go as ErrorResponse). */
  readonly answer?: TSchema;
  /** Where its latency is recorded as it is answered (none for a live tail, which lasts as long as its reader). */
  readonly latency: RouteDurations | undefined;
  readonly serve: (request: StreamRequest, reply: StreamReply) => void | Promise<void>;
}

const serializeError = fastJson(ErrorResponse) as (error: Static<typeof ErrorResponse>) => string;
const JSON_MEDIA_TYPE = 'application/json';

/**
 * The data plane: the stream API (send, receive, live tail), which every client message and every forwarded
 * one passes through, served on node:http directly from ONE table of routes. Each route has its wire schemas
 * compiled once (Ajv validators, fast-json-stringify serializers), so a request costs a Map lookup, its body
 * read, one validation and one `writeHead` + `end`: none of a framework's per-request objects, hooks and
 * ticks (docs/benchmarks.md, "Where the time goes"; docs/decisions.md, "One route table for the data plane"). Everything else is Nest's (control plane).
 */
export class DataPlane {
  private readonly gets = new Map<string, CompiledRoute>();
  private readonly posts = new Map<string, CompiledRoute>();
  private readonly unmatched: CompiledRoute;

  constructor(
    /** Every path of the data plane starts with this; other requests are not its own. */
    private readonly prefix: string,
    private readonly settings: PlaneSettings,
  ) {
    this.unmatched = new CompiledRoute(
      {
        method: 'GET',
        path: 'unmatched',
        // Not in the latency metric: what matters there is the time of the requests served.
        latency: undefined,
        serve: (_request, reply) => void sendError(reply, 'NOT_FOUND', 'no such route'),
      },
      settings,
    );
  }

  add(route: DataRoute): void {
    if (!route.path.startsWith(this.prefix)) throw new Error(`${route.path} is outside ${this.prefix}`);
    (route.method === 'GET' ? this.gets : this.posts).set(route.path, new CompiledRoute(route, this.settings));
  }

  /** `METHOD /path` of every route, for the node's debug log. */
  get routes(): string[] {
    return [...[...this.gets.keys()].map((path) => `GET ${path}`), ...[...this.posts.keys()].map((p) => `POST ${p}`)];
  }

  /**
   * Serves `req` if its path is the data plane's (an unknown one there gets 404); false if it is not.
   * `arrivedAt` (`performance.now()` when it reached the node) is where its latency is counted from.
   */
  serve(req: DataRequest, res: ServerResponse, arrivedAt: number): boolean {
    const url = req.url!;
    if (!url.startsWith(this.prefix)) return false;
    const mark = url.indexOf('?', this.prefix.length);
    const path = mark < 0 ? url : url.slice(0, mark);
    const method = req.method;
    const route = (method === 'GET' ? this.gets : method === 'POST' ? this.posts : undefined)?.get(path);
    (route ?? this.unmatched).handle(req, res, mark < 0 ? '' : url.slice(mark + 1), arrivedAt);
    return true;
  }
}

/** What the data plane serves: a request that hands over its body (api/parser-body.ts, workers/). */
export type DataRequest = IncomingMessage & DirectBody;

export interface PlaneSettings {
  readonly validation: Validation;
  readonly bodyLimitBytes: number;
  readonly logger: Logger;
}

/** A route with its validators and serializers compiled, and its latency series. */
class CompiledRoute implements AnswerWriter {
  private readonly validateQuery: ValidateFunction | undefined;
  private readonly validateBody: ValidateFunction | undefined;
  private readonly serializeAnswer: ((answer: object) => string) | undefined;
  readonly durations: RouteDurations | undefined;
  readonly bodyLimitBytes: number;
  private readonly logger: Logger;
  private readonly serveRoute: DataRoute['serve'];

  constructor(route: DataRoute, settings: PlaneSettings) {
    this.validateQuery = route.query && settings.validation.query(route.query);
    this.validateBody = route.body && settings.validation.body(route.body);
    this.serializeAnswer = route.answer && (fastJson(route.answer) as (answer: object) => string);
    this.durations = route.latency;
    this.bodyLimitBytes = settings.bodyLimitBytes;
    this.logger = settings.logger;
    this.serveRoute = route.serve;
  }

  handle(raw: DataRequest, res: ServerResponse, search: string, arrivedAt: number): void {
    const validateQuery = this.validateQuery;
    const query = validateQuery === undefined ? undefined : parseQuery(search);
    const request = new StreamRequest(raw, arrivedAt, query, undefined);
    const reply = new StreamReply(res, request, this);
    if (validateQuery !== undefined && !validateQuery(query)) {
      return void sendError(reply, 'INVALID_REQUEST', describeInvalid('query', validateQuery));
    }
    if (this.validateBody !== undefined) return this.readBody(raw, request, reply);
    raw.readBody(NO_BODY);
    this.run(request, reply);
  }

  /** Reads the JSON body (up to http.bodyLimitBytes), then validates it and serves the request. */
  private readBody(raw: DataRequest, request: StreamRequest, reply: StreamReply): void {
    const type = raw.headers['content-type'];
    if (type === undefined || !isJson(type)) {
      return void sendError(reply, 'UNSUPPORTED_MEDIA_TYPE', `send the body as ${JSON_MEDIA_TYPE}`);
    }
    const lengthHeader = raw.headers['content-length'];
    const length = lengthHeader === undefined ? -1 : Number(lengthHeader);
    if (length > this.bodyLimitBytes) return this.tooLarge(reply);
    raw.readBody(new BodyRead(this, request, reply, length));
  }

  /** Parses and validates the body read, then serves the request. */
  parseBody(request: StreamRequest, reply: StreamReply, bytes: Buffer): void {
    request.rawBody = bytes;
    try {
      request.body = parseJson(bytes.toString());
    } catch (err) {
      return this.refuse(reply, err);
    }
    if (!this.validateBody!(request.body)) {
      return void sendError(reply, 'INVALID_REQUEST', describeInvalid('body', this.validateBody!));
    }
    this.run(request, reply);
  }

  /** A body over the limit: refused at once, and the connection closed rather than the rest of it read. */
  tooLarge(reply: StreamReply): void {
    reply.header('connection', 'close');
    void sendError(reply, 'PAYLOAD_TOO_LARGE', 'request body too large');
  }

  private run(request: StreamRequest, reply: StreamReply): void {
    let handled;
    try {
      handled = this.serveRoute(request, reply);
    } catch (err) {
      return this.fail(reply, err as Error);
    }
    if (handled !== undefined) handled.catch((err: unknown) => this.fail(reply, err as Error));
  }

  private refuse(reply: StreamReply, err: unknown): void {
    if (err instanceof DomainError) sendRefusal(reply, err);
    else this.fail(reply, err as Error);
  }

  serialize(status: number, payload: object): string {
    if (status >= 400) return serializeError(payload as { error: string; code: ErrorCode });
    return this.serializeAnswer === undefined ? JSON.stringify(payload) : this.serializeAnswer(payload);
  }

  fail(reply: StreamReply, err: Error): void {
    this.logger.error({ err }, 'unhandled error');
    if (!reply.sent) void sendError(reply, 'INTERNAL', 'internal error');
  }
}

/** A POST body as the request hands it over, up to the route's limit; once whole, its request is served. */
class BodyRead implements BodySink {
  private readonly chunks: Buffer[] = [];
  private received = 0;

  constructor(
    private readonly route: CompiledRoute,
    private readonly request: StreamRequest,
    private readonly reply: StreamReply,
    /** Its content-length, or -1 (chunked). */
    private readonly declaredLength: number,
  ) {}

  chunk(bytes: Buffer): void {
    const limit = this.route.bodyLimitBytes;
    if (this.received > limit) return; // refused already
    this.received += bytes.length;
    if (this.received <= limit) this.chunks.push(bytes);
    else this.route.tooLarge(this.reply);
  }

  end(): void {
    const { chunks, received, reply } = this;
    if (received > this.route.bodyLimitBytes) return;
    if (this.declaredLength >= 0 && received !== this.declaredLength) {
      reply.header('connection', 'close');
      return void sendError(reply, 'INVALID_REQUEST', 'body length does not match content-length');
    }
    this.route.parseBody(this.request, reply, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received));
  }
}

/** `application/json`, with or without parameters (`; charset=utf-8`), in any case. */
function isJson(contentType: string): boolean {
  if (contentType === JSON_MEDIA_TYPE) return true;
  const end = contentType.indexOf(';');
  return (end < 0 ? contentType : contentType.slice(0, end)).trim().toLowerCase() === JSON_MEDIA_TYPE;
}
