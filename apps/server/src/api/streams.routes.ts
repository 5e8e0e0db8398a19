import { ErrorResponse, EventsQuery, ReceiveQuery, SendRequest, SendResponse } from '@ipubsub/sdk/wire';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { secondsSinceArrival, type RequestDurations, type RouteDurations } from '../observability/index.js';
import type { StreamEventsController } from './stream-events.js';
import type { StreamsController } from './streams.controller.js';

/** Every path of the stream API starts with this; the HTTP server sends such requests to the stream API's instance. */
export const STREAMS_PATH_PREFIX = '/api/v1/streams/';
export const SEND_ROUTE = `${STREAMS_PATH_PREFIX}send`;
export const RECEIVE_ROUTE = `${STREAMS_PATH_PREFIX}receive`;
export const EVENTS_ROUTE = `${STREAMS_PATH_PREFIX}events`;

const ERRORS = { '4xx': ErrorResponse, '5xx': ErrorResponse };

/**
 * The stream API's routes: the wire schemas Fastify validates requests and serializes answers with, and the
 * controller method that serves each. The controller answers through `reply` itself (a long poll may end
 * without an answer when its client has gone), so handlers return nothing for Fastify to send; each records
 * its latency once answered.
 */
export function registerStreamRoutes(
  fastify: FastifyInstance,
  controller: StreamsController,
  events: StreamEventsController,
  durations: RequestDurations,
): void {
  const route = (
    method: 'GET' | 'POST',
    url: string,
    schema: FastifySchema,
    serve: (request: FastifyRequest, reply: FastifyReply) => void | Promise<void>,
  ): void => {
    const latency = durations.route(url);
    fastify.route({ method, url, schema, handler: (request, reply) => settle(serve(request, reply), reply, latency) });
  };
  // The bodies and queries below have passed their schema.
  route('POST', SEND_ROUTE, { body: SendRequest, response: { 200: SendResponse, ...ERRORS } }, (request, reply) =>
    controller.send(request.body as SendRequest, request, reply),
  );
  route('GET', RECEIVE_ROUTE, { querystring: ReceiveQuery, response: ERRORS }, (request, reply) =>
    controller.receive(request.query as ReceiveQuery, request, reply),
  );
  // A live tail lasts as long as its reader stays: no latency to record, and errors end it (see serve).
  fastify.route({
    method: 'GET',
    url: EVENTS_ROUTE,
    schema: { querystring: EventsQuery, response: ERRORS },
    handler: (request, reply) => events.serve(request.query as EventsQuery, request, reply),
  });
}

/**
 * Records the latency of a request answered by the time its handler settles (an in-memory receive that parked
 * records its own when answered); a failure the controller did not answer (a bug) goes to the error handler.
 */
function settle(handled: void | Promise<void>, reply: FastifyReply, durations: RouteDurations): void {
  if (handled === undefined) recordIfAnswered(reply, durations);
  else
    handled.then(
      () => recordIfAnswered(reply, durations),
      (err: unknown) => reply.send(err),
    );
}

/** Records a request's latency if it was answered (a long poll whose client had gone ends without an answer). */
export function recordIfAnswered(reply: FastifyReply, durations: RouteDurations): void {
  if (reply.sent) durations.record(reply.statusCode, secondsSinceArrival(reply.request.raw));
}
