import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Ajv } from 'ajv';
import type { AppConfig } from './config/index.js';
import type { Metrics } from './observability/index.js';

/**
 * Fastify-level settings: validation, CORS and request latency.
 *
 * Bodies are validated strictly (no type coercion, unknown fields rejected); query strings are text, so their
 * numbers and booleans are coerced. Each schema is compiled once, when its route is registered.
 */
export function configureHttp(app: NestFastifyApplication, config: AppConfig, metrics: Metrics): void {
  const fastify = app.getHttpAdapter().getInstance();
  const strict = new Ajv({ coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: false, strict: false });
  const coercing = new Ajv({ coerceTypes: true, useDefaults: false, removeAdditional: false, allErrors: false, strict: false });
  fastify.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'querystring' ? coercing : strict).compile(schema),
  );

  const origins = config.http.corsOrigins;
  if (origins.length > 0) {
    app.enableCors({ origin: origins.includes('*') ? true : origins, maxAge: 600 });
  }

  const byRoute = new Map<string, ReturnType<typeof metrics.requestDuration.labels>>();
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${route} ${reply.statusCode}`;
    let histogram = byRoute.get(key);
    if (histogram === undefined) {
      histogram = metrics.requestDuration.labels(route, String(reply.statusCode));
      byRoute.set(key, histogram);
    }
    histogram.observe(reply.elapsedTime / 1000);
    done();
  });
}
