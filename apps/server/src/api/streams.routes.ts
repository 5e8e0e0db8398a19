import { EventsQuery, ReceiveQuery, SendRequest, SendResponse } from '@ipubsub/sdk/wire';
import type { RequestDurations } from '../observability/index.js';
import type { DataPlane } from './data-plane.js';
import type { StreamEventsController } from './stream-events.js';
import { EVENTS_ROUTE, RECEIVE_ROUTE, SEND_ROUTE } from './stream-paths.js';
import type { StreamsController } from './streams.controller.js';

/**
 * The stream API's routes: the wire schemas requests are validated and answers serialized with, and the
 * controller method that serves each (the bodies and queries they get have passed their schema).
 */
export function registerStreamRoutes(
  plane: DataPlane,
  controller: StreamsController,
  events: StreamEventsController,
  durations: RequestDurations,
): void {
  plane.add({
    method: 'POST',
    path: SEND_ROUTE,
    body: SendRequest,
    answer: SendResponse,
    latency: durations.route(SEND_ROUTE),
    serve: (request, reply) => controller.send(request.body as SendRequest, request, reply),
  });
  plane.add({
    method: 'GET',
    path: RECEIVE_ROUTE,
    query: ReceiveQuery,
    latency: durations.route(RECEIVE_ROUTE),
    serve: (request, reply) => controller.receive(request.query as ReceiveQuery, request, reply),
  });
  // A live tail lasts as long as its reader stays: no latency to record.
  plane.add({
    method: 'GET',
    path: EVENTS_ROUTE,
    query: EventsQuery,
    latency: undefined,
    serve: (request, reply) => events.serve(request.query as EventsQuery, request, reply),
  });
}
