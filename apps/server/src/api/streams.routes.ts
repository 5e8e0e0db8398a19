import { ErrorResponse, ReceiveQuery, SendRequest, SendResponse } from '@ipubsub/sdk/wire';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { StreamsController } from './streams.controller.js';

/** Every path of the stream API starts with this; the HTTP server sends such requests to the stream API's instance. */
export const STREAMS_PATH_PREFIX = '/api/v1/streams/';

const ERRORS = { '4xx': ErrorResponse, '5xx': ErrorResponse };

/**
 * The stream API's routes: the wire schemas Fastify validates requests and serializes answers with, and the
 * controller method that serves each. The controller answers through `reply` itself (a long poll may end
 * without an answer when its client has gone), so handlers return nothing for Fastify to send.
 */
export function registerStreamRoutes(fastify: FastifyInstance, controller: StreamsController): void {
  fastify.post<{ Body: SendRequest }>(
    `${STREAMS_PATH_PREFIX}send`,
    { schema: { body: SendRequest, response: { 200: SendResponse, ...ERRORS } } },
    (request, reply) => settle(controller.send(request.body, request, reply), reply),
  );
  fastify.get<{ Querystring: ReceiveQuery }>(
    `${STREAMS_PATH_PREFIX}receive`,
    { schema: { querystring: ReceiveQuery, response: ERRORS } },
    (request, reply) => settle(controller.receive(request.query, request, reply), reply),
  );
}

/** A failure the controller did not answer (a bug) goes to the error handler, which answers 500. */
function settle(handled: Promise<void>, reply: FastifyReply): void {
  handled.catch((err: unknown) => reply.send(err));
}
