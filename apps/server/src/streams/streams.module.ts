import { Inject, Module, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/index.js';
import { Metrics } from '../observability/index.js';
import { StreamEngine } from './stream-engine.js';

/** Nest wiring for the engine; the engine itself knows nothing of Nest. */
@Module({
  providers: [
    {
      provide: StreamEngine,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        new StreamEngine({
          maxStreams: config.limits.maxStreams,
          maxWaitersPerStream: config.limits.maxWaitersPerStream,
          maxWaitersPerNode: config.limits.maxWaitersPerNode,
          dedupWindow: config.streams.dedupWindow,
          idleEvictionMs: config.streams.idleEvictionSeconds * 1000,
        }),
    },
  ],
  exports: [StreamEngine],
})
export class StreamsModule implements OnModuleInit {
  constructor(
    @Inject(StreamEngine) private readonly engine: StreamEngine,
    @Inject(Metrics) private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    this.metrics.gauge('ipubsub_active_streams', 'Streams held in memory', () => this.engine.streamCount);
    this.metrics.gauge(
      'ipubsub_waiting_clients',
      'Receivers and blocked senders waiting',
      () => this.engine.waiterCount,
    );
  }
}
