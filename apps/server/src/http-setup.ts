import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Ajv } from 'ajv';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifySchemaCompiler,
  type FastifyServerFactory,
  type onResponseHookHandler,
} from 'fastify';
import type { Logger } from 'pino';
import { classifyFastifyError, sendError } from './api/errors.js';
import { STREAMS_PATH_PREFIX } from './api/streams.routes.js';
import type { AppConfig } from './config/index.js';
import type { Metrics } from './observability/index.js';

/**
 * HTTP on one port, served by two Fastify instances.
 *
 * The stream API (`/api/v1/streams/*`, every client message passes through it) runs on a plain Fastify
 * instance: Nest's adapter adds request hooks and a per-request pipeline that together cost about a third
 * of the CPU per send (docs/benchmarks.md). Everything else — health, readiness, metrics, the cluster API,
 * internal routes — stays on Nest's instance. Both apply the same validation, CORS, latency metric and
 * `{error, code}` answers.
 */

const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/**
 * The server both instances share: requests for the stream API go to `streamApi`, the rest to Nest's
 * instance (the handler Fastify passes to its server factory).
 */
export function routeStreamApi(streamApi: FastifyInstance): FastifyServerFactory {
  return (nestHandler) => {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url!.startsWith(STREAMS_PATH_PREFIX)) streamApi.routing(req, res);
      else nestHandler(req, res);
    });
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.requestTimeout = 0; // long polls; Fastify's default too
    return server;
  };
}

/** The plain Fastify instance of the stream API, before its routes are added. */
export function createStreamApi(config: AppConfig, logger: Logger): FastifyInstance {
  const fastify = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.http.bodyLimitBytes,
  });
  // One logger for every request: a child per request costs an allocation for context nobody logs.
  fastify.setChildLoggerFactory((parent) => parent);
  fastify.setErrorHandler((error, _request, reply) => {
    const [code, message] = classifyFastifyError(error, logger);
    void sendError(reply, code, message);
  });
  fastify.setNotFoundHandler((_request, reply) => void sendError(reply, 'NOT_FOUND', 'no such route'));
  return fastify;
}

/** Validation, CORS and the latency metric, alike on Nest's instance and the stream API's. */
export function configureHttp(app: NestFastifyApplication, streamApi: FastifyInstance, config: AppConfig, metrics: Metrics): void {
  const validation = new Validation();
  const latency = new RequestLatency(metrics);
  for (const fastify of [app.getHttpAdapter().getInstance(), streamApi]) {
    fastify.setValidatorCompiler(validation.compile);
    allowCors(fastify, config.http.corsOrigins);
    fastify.addHook('onResponse', latency.hook);
  }
}

/**
 * Bodies are validated strictly (no type coercion, unknown fields rejected); query strings are text, so their
 * numbers and booleans are coerced. Each schema is compiled once, when its route is registered.
 */
class Validation {
  private readonly strict = new Ajv({ coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: false, strict: false });
  private readonly coercing = new Ajv({ coerceTypes: true, useDefaults: false, removeAdditional: false, allErrors: false, strict: false });

  readonly compile: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
    (httpPart === 'querystring' ? this.coercing : this.strict).compile(schema as object);
}

const PREFLIGHT_MAX_AGE_SECONDS = '600';

/**
 * CORS for browsers calling a node directly: an allowed `Origin` is echoed back (with `Vary: Origin`), and a
 * preflight is answered here, before routing to a handler. Requests without `Origin` (every non-browser
 * client) cost one header lookup.
 */
function allowCors(fastify: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const anyOrigin = origins.includes('*');
  const allowed = new Set(origins);
  fastify.addHook('onRequest', (request, reply, done) => {
    const origin = request.headers.origin;
    if (origin === undefined || !(anyOrigin || allowed.has(origin))) return done();
    reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    const preflightMethod = request.headers['access-control-request-method'];
    if (request.method !== 'OPTIONS' || preflightMethod === undefined) return done();
    reply
      .header('access-control-allow-methods', 'GET, POST')
      .header('access-control-max-age', PREFLIGHT_MAX_AGE_SECONDS)
      .header('vary', 'Origin, Access-Control-Request-Headers');
    const requestedHeaders = request.headers['access-control-request-headers'];
    if (requestedHeaders !== undefined) reply.header('access-control-allow-headers', requestedHeaders);
    void reply.code(204).send();
  });
}

type LatencyChild = ReturnType<Metrics['requestDuration']['labels']>;

/**
 * Records `ipubsub_http_request_duration_seconds` from an onResponse hook. The label children are cached per
 * route and status, so recording costs a map lookup rather than prom-client's label hashing.
 */
class RequestLatency {
  private readonly children = new Map<string, LatencyChild>();

  constructor(private readonly metrics: Metrics) {}

  readonly hook: onResponseHookHandler = (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${reply.statusCode} ${route}`;
    let child = this.children.get(key);
    if (child === undefined) {
      child = this.metrics.requestDuration.labels(route, String(reply.statusCode));
      this.children.set(key, child);
    }
    child.observe(reply.elapsedTime / 1000);
    done();
  };
}
