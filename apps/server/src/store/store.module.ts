import { Inject, Logger, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Counter } from 'prom-client';
import { APP_CONFIG, ConfigSchema, type AppConfig } from '../config/index.js';
import { Metrics, Readiness } from '../observability/index.js';
import type { MessageStore } from './message-store.js';
import { openMessageStore } from './open-store.js';
import { PurgeSchedule } from './purge-schedule.js';
import { ResumeTokens } from './resume-token.js';
import { StoredReadWaiters } from './stored-read-waiters.js';
import { StoredStreams } from './stored-streams.js';

/** Injection token of the MessageStore adapter chosen by `store.type`. */
export const MESSAGE_STORE = Symbol('MESSAGE_STORE');

/** Expired rows deleted per purge statement: small, so no delete holds locks or the disk for long. */
const PURGE_BATCH_SIZE = 500;
const DEFAULT_TOKEN_SECRET = ConfigSchema.properties.store.properties.tokenSecret.default as string;

/**
 * Stored streams: opens the store at start (the node does not start without it), reports it to /ready,
 * purges expired messages, and closes it after the HTTP server has stopped.
 */
@Module({
  providers: [
    { provide: MESSAGE_STORE, inject: [APP_CONFIG], useFactory: openMessageStore },
    {
      provide: StoredStreams,
      inject: [MESSAGE_STORE, APP_CONFIG],
      useFactory: (store: MessageStore, config: AppConfig) =>
        new StoredStreams(store, new ResumeTokens(config.store.tokenSecret), new StoredReadWaiters(config.limits)),
    },
  ],
  exports: [StoredStreams],
})
export class StoreModule implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('store');
  private readonly purge: PurgeSchedule;

  constructor(
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    @Inject(StoredStreams) private readonly stored: StoredStreams,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(Readiness) private readonly readiness: Readiness,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const purged = new Counter({
      name: 'ipubsub_store_purged_total',
      help: 'Expired stored messages deleted by the background purge',
      registers: [metrics.registry],
    });
    this.purge = new PurgeSchedule(store, config.store.purgeIntervalSeconds * 1000, PURGE_BATCH_SIZE, {
      purged: (count) => purged.inc(count),
      failed: (err) => this.logger.warn(`purge of expired messages failed: ${(err as Error)?.message}`),
    });
  }

  onModuleInit(): void {
    this.readiness.register({ name: 'store', check: () => this.store.health() });
    this.metrics.gauge(
      'ipubsub_store_waiting_readers',
      'Readers waiting for the next stored message',
      () => this.stored.waitingReaders,
    );
    this.purge.start();
    if (this.config.store.type !== 'sqlite' && this.config.store.tokenSecret === DEFAULT_TOKEN_SECRET) {
      this.logger.warn(
        'store.tokenSecret is the built-in default: anyone can forge resume tokens; set IPUBSUB_STORE_TOKENSECRET',
      );
    }
    if (this.store.copies !== undefined && this.config.cluster.seeds.length > 0) {
      // Reached only with store.allowNodeLocalInCluster (the config refuses it otherwise).
      this.logger.warn(
        `store.type ${this.config.store.type} in a cluster (store.allowNodeLocalInCluster): each stream's stored messages are on one member; while it is down they answer 503, and they are lost with its disk`,
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.purge.stop();
    await this.stored.idle();
    await this.store.close();
  }
}
