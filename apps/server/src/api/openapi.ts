import {
  ClusterRouting,
  ERROR_STATUS,
  ErrorResponse,
  EventsQuery,
  Gap,
  ReceivedBatch,
  ReceivedMessage,
  ReceiveQuery,
  SendRequest,
  SendResponse,
  StreamEvent,
  StreamId,
} from '@ipubsub/sdk/wire';
import { Controller, Get, Inject } from '@nestjs/common';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { APP_CONFIG, type AppConfig } from '../config/index.js';
import { PACKAGE_VERSION } from '../package-version.js';
import { EVENTS_ROUTE, RECEIVE_ROUTE, SEND_ROUTE } from './stream-paths.js';

/** Where the document and its interactive reference are served. */
export const OPENAPI_ROUTE = '/openapi.json';
export const DOCS_ROUTE = '/docs';

type Json = Record<string, unknown>;

/** A TypeBox schema as plain JSON Schema (its symbol-keyed annotations dropped). */
const plain = (schema: TSchema): Json => JSON.parse(JSON.stringify(schema)) as Json;
const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description: string): Json => ({
  description,
  content: { 'application/json': { schema } },
});

/** The answers of the cluster API and the probes, documented here: they are not part of the wire module. */
const Member = Type.Object({
  name: Type.String(),
  state: Type.String({ description: 'alive, suspect, dead or left' }),
  self: Type.Boolean({ description: 'true for the node that answered' }),
});
const ClusterView = Type.Object({
  cluster: Type.String({ description: 'cluster.name' }),
  self: Type.String({ description: 'name of the node that answered' }),
  joined: Type.Boolean({ description: 'joined (or, alone, done waiting for seeds)' }),
  ringVersion: Type.Integer({ description: 'changes of the ring this node has seen' }),
  ring: Type.Array(Type.String(), { description: 'names of the members owning streams, sorted' }),
  members: Type.Array(Member),
  routing: ClusterRouting,
});
const StreamOwner = Type.Object({
  streamId: Type.String(),
  owner: Type.Union([Type.String(), Type.Null()], { description: 'name of the owning node; null: no live member' }),
  ringVersion: Type.Integer(),
});
const Ready = Type.Object({
  status: Type.Literal('ready'),
  checks: Type.Record(Type.String(), Type.String(), { description: 'each dependency: "ok" or why not' }),
});

const SCHEMAS: Record<string, TSchema> = {
  SendRequest,
  SendResponse,
  ReceivedMessage,
  ReceivedBatch,
  Gap,
  StreamEvent,
  ErrorResponse,
  ClusterView,
  StreamOwner,
  Ready,
};

/** `{error, code}` answers by status, each listing the codes it is sent with (the wire's code table). */
function errorAnswers(statuses: readonly number[]): Json {
  const answers: Json = {};
  for (const status of statuses) {
    const codes = Object.entries(ERROR_STATUS)
      .filter(([, codeStatus]) => codeStatus === status)
      .map(([code]) => `\`${code}\``);
    answers[String(status)] = json(ref('ErrorResponse'), `\`{error, code}\` with code ${codes.join(' or ')}`);
  }
  return answers;
}

const CLIENT_ERRORS = [400, 413, 415, 431];
const SERVER_ERRORS = [500, 503];

/** The stream API's query parameters, one per property of the wire's ReceiveQuery. */
function queryParameters(schema: TSchema): Json[] {
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(schema.properties as Record<string, TSchema>).map(([name, property]) => {
    const { description, ...rest } = plain(property);
    return { name, in: 'query', required: required.has(name), description, schema: rest };
  });
}

/**
 * The OpenAPI 3.1 document of every public route, built from the wire schemas the server validates and answers
 * with. With `auth.mode: jwt` it declares the bearer scheme and which routes need a token.
 */
export function openApiDocument(config: AppConfig): Json {
  const authOn = config.auth.mode === 'jwt';
  const bearer = authOn ? [{ bearer: [] }] : undefined;
  const authErrors = authOn ? [401, 403] : [];
  const opsSecurity = authOn && config.auth.protectMetrics ? bearer : undefined;
  const operation = (op: Json, security?: Json[]): Json => (security === undefined ? op : { ...op, security });
  return {
    openapi: '3.1.0',
    info: {
      title: 'iPubSub',
      version: PACKAGE_VERSION,
      summary: 'Pub-sub for millions of throw-away streams over HTTP long-polling, with optional stored replay',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    paths: {
      [SEND_ROUTE]: {
        post: operation(
          {
            operationId: 'send',
            summary: 'Send a message to a stream (created by its first message)',
            tags: ['streams'],
            requestBody: { required: true, content: { 'application/json': { schema: ref('SendRequest') } } },
            responses: {
              200: json(ref('SendResponse'), 'accepted by the owner (stored durably with writeToDB)'),
              ...errorAnswers([...CLIENT_ERRORS, ...authErrors, 424, 429, ...SERVER_ERRORS]),
            },
          },
          bearer,
        ),
      },
      [RECEIVE_ROUTE]: {
        get: operation(
          {
            operationId: 'receive',
            summary: 'Take the oldest message of a stream, waiting for one (long poll), or read stored messages',
            tags: ['streams'],
            parameters: queryParameters(ReceiveQuery),
            responses: {
              200: json(
                { oneOf: [ref('ReceivedMessage'), ref('ReceivedBatch')] },
                'a message, or with maxMessages a batch of messages',
              ),
              ...errorAnswers([...CLIENT_ERRORS, ...authErrors, 424, 429, ...SERVER_ERRORS]),
            },
          },
          bearer,
        ),
      },
      [EVENTS_ROUTE]: {
        get: operation(
          {
            operationId: 'events',
            summary: 'Live tail of a stored stream as Server-Sent Events (replay, then each message as stored)',
            tags: ['streams'],
            parameters: [
              ...queryParameters(EventsQuery),
              {
                name: 'Last-Event-ID',
                in: 'header',
                required: false,
                description: 'resume after this event id (sent by a reconnecting EventSource)',
                schema: { type: 'string' },
              },
            ],
            responses: {
              200: {
                description:
                  'an event stream: each `data:` is a StreamEvent (JSON), each `id:` the resume token after it',
                content: { 'text/event-stream': { schema: { type: 'string' } } },
              },
              ...errorAnswers([...CLIENT_ERRORS, ...authErrors, ...SERVER_ERRORS]),
            },
          },
          bearer,
        ),
      },
      '/api/v1/cluster': {
        get: operation(
          {
            operationId: 'cluster',
            summary: 'Members of the cluster and the ring, as this node sees them',
            tags: ['cluster'],
            responses: { 200: json(ref('ClusterView'), 'the cluster'), ...errorAnswers(authErrors) },
          },
          bearer,
        ),
      },
      '/api/v1/cluster/owner': {
        get: operation(
          {
            operationId: 'streamOwner',
            summary: 'Which node owns a stream',
            tags: ['cluster'],
            parameters: [{ name: 'streamId', in: 'query', required: true, schema: plain(StreamId) }],
            responses: { 200: json(ref('StreamOwner'), 'the owner'), ...errorAnswers([400, ...authErrors]) },
          },
          bearer,
        ),
      },
      '/health': {
        get: {
          operationId: 'health',
          summary: 'Alive: the process answers HTTP',
          tags: ['operations'],
          responses: { 200: json(Type.Object({ status: Type.Literal('ok') }), 'alive') },
        },
      },
      '/ready': {
        get: operation(
          {
            operationId: 'ready',
            summary: 'Ready: the store is reachable and the cluster joined',
            tags: ['operations'],
            responses: { 200: json(ref('Ready'), 'ready'), ...errorAnswers([...authErrors, 503]) },
          },
          opsSecurity,
        ),
      },
      '/metrics': {
        get: operation(
          {
            operationId: 'metrics',
            summary: 'Prometheus metrics',
            tags: ['operations'],
            responses: {
              200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
              ...errorAnswers(authErrors),
            },
          },
          opsSecurity,
        ),
      },
      [OPENAPI_ROUTE]: {
        get: {
          operationId: 'openapi',
          summary: 'This document',
          tags: ['operations'],
          responses: { 200: json({ type: 'object' }, 'OpenAPI 3.1') },
        },
      },
      [DOCS_ROUTE]: {
        get: {
          operationId: 'docs',
          summary: 'Interactive reference of this document (Swagger UI)',
          tags: ['operations'],
          responses: { 200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } },
        },
      },
    },
    components: {
      schemas: Object.fromEntries(Object.entries(SCHEMAS).map(([name, schema]) => [name, plain(schema)])),
      ...(authOn
        ? {
            securitySchemes: {
              bearer: {
                type: 'http',
                scheme: 'bearer',
                bearerFormat: 'JWT',
                description: 'a JWT whose `ipubsub` claim grants send/receive on stream patterns',
              },
            },
          }
        : {}),
    },
  };
}

/**
 * Swagger UI at /docs (its assets under /docs/): @fastify/swagger and @fastify/swagger-ui are Fastify plugins on
 * Nest's instance, which add their own routes. Public: the document describes the API, not its data.
 */
export async function registerOpenApi(fastify: FastifyInstance, config: AppConfig): Promise<void> {
  const document = openApiDocument(config);
  await fastify.register(swagger, { mode: 'static', specification: { document: document as never } });
  await fastify.register(swaggerUi, { routePrefix: DOCS_ROUTE, uiConfig: { deepLinking: false } });
}

/** The document at /openapi.json, public as Swagger UI is. */
@Controller()
export class OpenApiController {
  private readonly document: object;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.document = openApiDocument(config);
  }

  @Get(OPENAPI_ROUTE)
  serve(): object {
    return this.document;
  }
}
