import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/index.js';
import { Metrics } from '../observability/index.js';
import { Authenticator } from './authenticator.js';
import { TokenVerifier } from './token-verifier.js';

/** Injection token of the node's Authenticator, or null with `auth.mode: none` (every request is let in). */
export const AUTHENTICATOR = Symbol('AUTHENTICATOR');

@Global()
@Module({
  providers: [
    {
      provide: AUTHENTICATOR,
      inject: [APP_CONFIG, Metrics],
      useFactory: (config: AppConfig, metrics: Metrics): Authenticator | null => {
        if (config.auth.mode === 'none') return null;
        const authenticator = new Authenticator(
          new TokenVerifier(config.auth.jwt),
          config.auth.jwt.cacheSize,
          metrics.authOutcome,
        );
        metrics.gauge(
          'ipubsub_auth_cached_tokens',
          'Verified tokens remembered until they expire (at most auth.jwt.cacheSize)',
          () => authenticator.cachedTokens,
        );
        return authenticator;
      },
    },
  ],
  exports: [AUTHENTICATOR],
})
export class AuthModule {}
