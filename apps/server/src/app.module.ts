import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { ApiModule } from './api/index.js';
import { AuthModule } from './auth/index.js';
import { ClusterModule } from './cluster/index.js';
import { ConfigModule, type AppConfig } from './config/index.js';
import { GracefulShutdown, LOGGER } from './lifecycle.js';
import { ObservabilityModule } from './observability/index.js';
import { StoreModule } from './store/index.js';
import { StreamsModule } from './streams/streams.module.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        ObservabilityModule,
        AuthModule,
        StreamsModule,
        StoreModule,
        ApiModule,
        ClusterModule.forRoot(logger),
      ],
      providers: [{ provide: LOGGER, useValue: logger }, GracefulShutdown],
    };
  }
}
