import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { ClusterRouter, PeerClient } from '../cluster/index.js';
import { LOGGER, Metrics } from '../observability/index.js';
import { StoredStreams, StoreModule } from '../store/index.js';
import { StreamsModule } from '../streams/streams.module.js';
import { ClusterController } from './cluster.controller.js';
import { ClusterForwarding } from './forwarding.js';
import { HealthController } from './health.controller.js';
import { OpenApiController } from './openapi.js';
import { answerMoved, StoredStreamsHttp } from './stored-http.js';
import { StreamEventsController } from './stream-events.js';
import { StreamsController } from './streams.controller.js';

/** The HTTP layer: the stream API's controllers, forwarding to a stream's owner, and the control plane's routes. */
@Module({
  imports: [StreamsModule, StoreModule],
  controllers: [HealthController, ClusterController, OpenApiController],
  providers: [
    StreamsController,
    StreamEventsController,
    {
      provide: ClusterForwarding,
      inject: [ClusterRouter, PeerClient, Metrics, LOGGER],
      useFactory: (router: ClusterRouter, peers: PeerClient, metrics: Metrics, logger: Logger) => {
        const forwards = new Counter({
          name: 'ipubsub_cluster_forwarded_requests_total',
          help: 'Stream requests forwarded to their owner, by outcome (unavailable: answered 503 OWNER_UNAVAILABLE)',
          labelNames: ['outcome'] as const,
          registers: [metrics.registry],
        });
        const ok = forwards.labels('ok');
        const unavailable = forwards.labels('unavailable');
        return new ClusterForwarding(
          router,
          peers,
          { forwarded: () => ok.inc(), unavailable: () => unavailable.inc() },
          logger.child({ component: 'cluster' }),
        );
      },
    },
    {
      provide: StoredStreamsHttp,
      inject: [StoredStreams, Metrics, ClusterForwarding],
      useFactory: (stored: StoredStreams, metrics: Metrics, forwarding: ClusterForwarding) =>
        new StoredStreamsHttp(
          stored,
          metrics,
          // A stored long poll whose stream moves away while it waits here goes on to the new owner.
          forwarding.active
            ? (streamId, reply, startedAt) => forwarding.rerouteMoved(streamId, reply, startedAt)
            : answerMoved,
        ),
    },
  ],
  exports: [StreamsController, StreamEventsController],
})
export class ApiModule {}
