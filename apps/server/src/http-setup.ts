import {
  createServer,
  maxHeaderSize,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { ERROR_STATUS, RING_VERSION_HEADER, type ErrorCode } from '@ipubsub/sdk/wire';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest, FastifyServerFactory } from 'fastify';
import type { Logger } from 'pino';
import { DataPlane, type DataRequest } from './api/data-plane.js';
import { ParserBodyRequest } from './api/parser-body.js';
import type { SendGate } from './api/send-gate.js';
import { STREAMS_PATH_PREFIX } from './api/stream-paths.js';
import { Validation } from './api/validation.js';
import type { AppConfig } from './config/index.js';
import { logRequest, secondsSinceArrival, stampArrival, type Metrics } from './observability/index.js';
import { readTlsFiles, reloadTlsOnSighup } from './tls.js';

/**
 * HTTP on one port: the data plane and Nest's Fastify instance behind a small front.
 *
 * The stream API (`/api/v1/streams/*`, which every client message passes through) is served by the data
 * plane on node:http directly (api/data-plane.ts): Nest's adapter adds six request hooks and a per-request
 * pipeline, and even a plain Fastify instance costs its Request and Reply objects, routing and body-parser
 * ticks on every request (docs/benchmarks.md). Everything else — health, readiness, metrics, the cluster
 * API, internal routes — stays on Nest's instance. CORS, the arrival time for the latency metric and the
 * access log are handled by the server in front of both.
 */

/**
 * How often Node checks its connections against the headers and request timeouts (its default, 30 s, would let
 * a slow client hold a socket up to 30 s past them).
 */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;

/**
 * The server the data plane and Nest share: it notes each request's arrival, applies CORS, then hands requests
 * for the stream API to `dataPlane` and the rest to Nest's instance (the handler Fastify gives its server factory).
 */
export function serveHttp(
  dataPlane: DataPlane,
  config: AppConfig,
  logger: Logger,
  sendGate: SendGate,
): FastifyServerFactory {
  const cors = corsPolicy(config.http.corsOrigins);
  const accessLog = config.log.requests;
  const tls = readTlsFiles(config.http.tls);
  return (nestHandler) => {
    const handle = (req: DataRequest, res: ServerResponse): void => {
      const arrivedAt = performance.now();
      if (accessLog) logRequest(logger, req, res, arrivedAt);
      if (cors !== undefined && req.headers.origin !== undefined && cors(req, res)) return;
      if (sendGate.refused(req, res) || dataPlane.serve(req, res, arrivedAt)) return;
      stampArrival(req, arrivedAt);
      nestHandler(req, res);
    };
    const options = {
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
      // The data plane takes bodies straight from the parser (api/parser-body.ts).
      IncomingMessage: ParserBodyRequest,
    };
    let server: Server;
    if (tls === undefined) server = createServer(options, handle);
    else {
      // HTTPS on the same port; SIGHUP re-reads the certificate (rotation) without dropping connections.
      const https = createHttpsServer({ ...options, ...tls }, handle);
      reloadTlsOnSighup(https, config.http.tls, logger);
      server = https;
    }
    server.on('clientError', answerClientError);
    // Node's own limits: a request must arrive whole within the timeouts (they end once it has been read, so
    // a long poll waits its full timeoutSeconds for its answer); beyond maxConnections a socket is closed.
    server.headersTimeout = config.http.headersTimeoutSeconds * 1000;
    server.requestTimeout = config.http.requestTimeoutSeconds * 1000;
    server.keepAliveTimeout = config.http.keepAliveTimeoutSeconds * 1000;
    server.maxConnections = config.http.maxConnections;
    return server;
  };
}

/** A complete HTTP answer with an `{error, code}` body, written straight to a socket that is closed after it. */
function rawErrorAnswer(code: ErrorCode, error: string): string {
  const body = JSON.stringify({ error, code });
  const status = ERROR_STATUS[code];
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}

/** What Node's parser could not read (its error code), answered as every other client mistake is. */
const CLIENT_ERROR_ANSWERS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: rawErrorAnswer(
    'REQUEST_HEADERS_TOO_LARGE',
    `request line and headers exceed ${maxHeaderSize} bytes`,
  ),
  HPE_CHUNK_EXTENSIONS_OVERFLOW: rawErrorAnswer('PAYLOAD_TOO_LARGE', 'chunk extensions too large'),
  ERR_HTTP_REQUEST_TIMEOUT: rawErrorAnswer(
    'REQUEST_TIMEOUT',
    'request not received in time (http.headersTimeoutSeconds, http.requestTimeoutSeconds)',
  ),
};
const MALFORMED_REQUEST = rawErrorAnswer('INVALID_REQUEST', 'malformed HTTP request');

/**
 * A request Node cannot parse never reaches Fastify: answer it here and close the connection, whose byte
 * stream can no longer be trusted. Fastify adds its own handler to a server from a serverFactory, answering
 * `{error, message, statusCode}`; it runs after this one, finds the socket destroyed and does nothing.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (socket.destroyed) return;
  // As Node's own handler: only if no answer has begun on this connection, or the client would get a corrupt one.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (err.code !== 'ECONNRESET' && socket.writable && (inFlight == null || !inFlight.headersSent)) {
    socket.write(CLIENT_ERROR_ANSWERS[err.code ?? ''] ?? MALFORMED_REQUEST);
  }
  socket.destroy();
}

/** The data plane of the stream API, before its routes are added (api/streams.routes.ts). */
export function createDataPlane(config: AppConfig, logger: Logger, validation: Validation): DataPlane {
  return new DataPlane(STREAMS_PATH_PREFIX, { validation, bodyLimitBytes: config.http.bodyLimitBytes, logger });
}

/**
 * Validation, `{error, code}` answers and the latency metric for Nest's instance, which records latency in an
 * onResponse hook (the data plane records its own as it answers). Returns the list every route registered from
 * now on is added to (`METHOD /path`), which the node logs at debug once listening.
 */
export function configureHttp(app: NestFastifyApplication, validation: Validation, metrics: Metrics): string[] {
  const durations = metrics.requestDurations;
  const recordLatency = (request: FastifyRequest, reply: FastifyReply): void =>
    durations.record(request.routeOptions.url ?? 'unmatched', reply.statusCode, secondsSinceArrival(request.raw));
  countConnections(app.getHttpServer(), metrics);
  const nest = app.getHttpAdapter().getInstance();
  const routes: string[] = [];
  nest.addHook('onRoute', ({ method, url }) => {
    for (const one of [method].flat()) routes.push(`${one} ${url}`);
  });
  nest.setValidatorCompiler(validation.compile);
  nest.addHook('onResponse', (request, reply, done) => {
    recordLatency(request, reply);
    done();
  });
  return routes;
}

/** Each server's open connections, for the gauge and for the shutdown (`closeUnusedConnections`). */
const openConnections = new WeakMap<Server, Set<Socket>>();

/** The open-connections gauge: one set insertion per connection, not per request. */
function countConnections(server: Server, metrics: Metrics): void {
  const open = new Set<Socket>();
  openConnections.set(server, open);
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  metrics.gauge('ipubsub_open_connections', 'Open HTTP connections (limit: http.maxConnections)', () => open.size);
}

/**
 * Closes the connections with no answer pending, once the node has stopped taking requests. Node's own
 * `closeIdleConnections()` skips a connection that has not sent a request yet (fetch and browsers open spare
 * ones), and `server.close()` would then wait for it until the shutdown's grace runs out.
 */
export function closeUnusedConnections(server: Server): void {
  for (const socket of openConnections.get(server) ?? []) {
    if ((socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage == null) socket.destroy();
  }
}

const PREFLIGHT_MAX_AGE_SECONDS = '600';

/**
 * CORS for browsers calling a node directly, or undefined when no origin is allowed: an allowed `Origin` is
 * echoed back (with `Vary: Origin`) on the answer, and a preflight is answered at once (returns true).
 * Requests without `Origin` (every non-browser client) never get here.
 */
function corsPolicy(origins: readonly string[]): ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined {
  if (origins.length === 0) return undefined;
  const anyOrigin = origins.includes('*');
  const allowed = new Set(origins);
  return (req, res) => {
    const origin = req.headers.origin!;
    if (!(anyOrigin || allowed.has(origin))) return false;
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) {
      // A browser's SDK reads it to notice a ring change (direct routing).
      res.setHeader('access-control-expose-headers', RING_VERSION_HEADER);
      return false;
    }
    res.setHeader('access-control-allow-methods', 'GET, POST');
    res.setHeader('access-control-max-age', PREFLIGHT_MAX_AGE_SECONDS);
    res.setHeader('vary', 'Origin, Access-Control-Request-Headers');
    const requestedHeaders = req.headers['access-control-request-headers'];
    if (requestedHeaders !== undefined) res.setHeader('access-control-allow-headers', requestedHeaders);
    res.writeHead(204).end();
    return true;
  };
}
