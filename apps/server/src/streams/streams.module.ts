import { Inject, Logger, Module, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/index.js';
import { Metrics } from '../observability/index.js';
import { MemoryBudget } from './memory-budget.js';
import { StreamEngine } from './stream-engine.js';

/** While sends are refused for memory, one warning a minute says so. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

/**
 * The node's memory budget: each refusal is counted, and logged at most once a minute. Made before Nest (the
 * HTTP server's send gate reads it) and provided to the engine as `MemoryBudget`.
 */
export function nodeMemoryBudget(limitBytes: number, metrics: Metrics): MemoryBudget {
  const logger = new Logger('streams');
  let refusedSinceLog = 0;
  let loggedAt = Number.NEGATIVE_INFINITY;
  const budget: MemoryBudget = new MemoryBudget(limitBytes, () => {
    metrics.refusals.memory_full.inc();
    refusedSinceLog++;
    const now = Date.now();
    if (now - loggedAt < REFUSAL_LOG_INTERVAL_MS) return;
    logger.warn(
      `memory budget full: ${refusedSinceLog} send(s) refused with 503 MEMORY_FULL since the last warning; ` +
        `${budget.used} of ${limitBytes} bytes held (limits.maxBufferedBytes)`,
    );
    loggedAt = now;
    refusedSinceLog = 0;
  });
  return budget;
}

/** Nest wiring for the engine; the engine itself knows nothing of Nest. */
@Module({
  providers: [
    {
      provide: StreamEngine,
      inject: [APP_CONFIG, MemoryBudget],
      useFactory: (config: AppConfig, budget: MemoryBudget) =>
        new StreamEngine(
          {
            maxStreams: config.limits.maxStreams,
            maxWaitersPerStream: config.limits.maxWaitersPerStream,
            maxWaitersPerNode: config.limits.maxWaitersPerNode,
            maxStreamBytes: config.limits.maxStreamBytes,
            dedupWindow: config.streams.dedupWindow,
            idleEvictionMs: config.streams.idleEvictionSeconds * 1000,
          },
          Date.now,
          budget,
        ),
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
    const budget = this.engine.budget;
    this.metrics.gauge(
      'ipubsub_buffered_bytes',
      'Bytes of message data held in memory (limits.maxBufferedBytes)',
      () => budget.used,
    );
    this.metrics.gauge('ipubsub_buffered_bytes_limit', 'limits.maxBufferedBytes', () => budget.limitBytes);
  }
}
