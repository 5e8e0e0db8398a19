import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { ApiModule, InternalRoutesModule } from './api/index.js';
import { AuthModule } from './auth/index.js';
import { ClusterModule, type SiblingRoutes } from './cluster/index.js';
import { ConfigModule, type AppConfig } from './config/index.js';
import { GracefulShutdown } from './graceful-shutdown.js';
import { NodeLifecycle } from './lifecycle/index.js';
import { LOGGER, Metrics, ObservabilityModule } from './observability/index.js';
import { StoreModule } from './store/index.js';
import { MemoryBudget } from './streams/index.js';
import { StreamsModule } from './streams/streams.module.js';

/** What main makes before Nest, because the HTTP server (made by the adapter, before any provider) uses it too. */
export interface MadeBeforeNest {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly budget: MemoryBudget;
  readonly lifecycle: NodeLifecycle;
}

/** Provides what main made before Nest to every module. */
@Global()
@Module({})
class MadeBeforeNestModule {
  static forRoot(made: MadeBeforeNest): DynamicModule {
    const providers = [
      { provide: LOGGER, useValue: made.logger },
      { provide: Metrics, useValue: made.metrics },
      { provide: MemoryBudget, useValue: made.budget },
      { provide: NodeLifecycle, useValue: made.lifecycle },
    ];
    return { module: MadeBeforeNestModule, providers, exports: providers.map(({ provide }) => provide) };
  }
}

@Module({})
export class AppModule {
  /** `siblings`: the other workers of this machine (`node.workers`), reached without HTTP. */
  static forRoot(config: AppConfig, made: MadeBeforeNest, siblings?: SiblingRoutes): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        MadeBeforeNestModule.forRoot(made),
        ObservabilityModule,
        AuthModule,
        StreamsModule,
        StoreModule,
        ApiModule,
        InternalRoutesModule.forRoot(config.cluster.seeds.length > 0),
        ClusterModule.forRoot(made.logger, siblings),
      ],
      providers: [GracefulShutdown],
    };
  }
}
