import 'reflect-metadata';
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { LogController } from 'fastify';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  ApiExceptionFilter,
  registerOpenApi,
  registerStreamRoutes,
  registerTokenGuard,
  StreamEventsController,
  StreamsController,
  SendGate,
} from './api/index.js';
import { AppModule } from './app.module.js';
import { AUTHENTICATOR, type Authenticator } from './auth/index.js';
import { ConfigError, loadConfig, type AppConfig } from './config/index.js';
import { GracefulShutdown } from './graceful-shutdown.js';
import { keepTickObjectShape } from './tick-shape.js';
import { NodeLifecycle } from './lifecycle/index.js';
import { createLogger, Metrics, PinoNestLogger } from './observability/index.js';
import { nodeMemoryBudget } from './streams/streams.module.js';
import { Validation } from './api/validation.js';
import { closeUnusedConnections, configureHttp, createDataPlane, serveHttp } from './http-setup.js';
import {
  checkWorkerConfig,
  listenOnOwnPort,
  SiblingChannel,
  WORKER_INDEX_ENV,
  workerConfig,
  workerCount,
  WorkerSupervisor,
  workerOwnPort,
} from './workers/index.js';

function readConfig(): { config: AppConfig; workers: number } {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } }, strict: false });
  const file = typeof values.config === 'string' ? values.config : process.env.IPUBSUB_CONFIG;
  try {
    const config = loadConfig(file);
    const workers = workerCount(config);
    checkWorkerConfig(config, workers);
    return { config, workers };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`ipubsub: ${err.message}\n`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  keepTickObjectShape();
  const { config: machine, workers } = readConfig();
  if (workers > 1 && cluster.isPrimary) {
    const logger = await createLogger(machine.log, machine.node.name);
    new WorkerSupervisor(workers, logger, machine.http.tls.certFile !== undefined).start();
    return;
  }
  // A worker of `node.workers: n` is a ring member of its own (see workerConfig).
  const worker = cluster.isWorker ? Number(process.env[WORKER_INDEX_ENV]) : 0;
  const config = worker > 0 ? workerConfig(machine, worker, workers) : machine;
  // Sibling workers forward to one another over Unix sockets in the primary's private directory.
  const siblings = SiblingChannel.forWorker(machine, worker, workers);
  const logger = await createLogger(config.log, config.node.name);
  const validation = new Validation();
  const dataPlane = createDataPlane(config, logger, validation);
  const metrics = new Metrics();
  const budget = nodeMemoryBudget(config.limits.maxBufferedBytes, metrics);
  const lifecycle = new NodeLifecycle();
  const sendGate = new SendGate(config.http.bodyLimitBytes, budget);
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.http.bodyLimitBytes,
    // Long polls are answered by the drain itself; new requests during it get our own JSON 503.
    return503OnClosing: false,
    serverFactory: serveHttp(dataPlane, config, logger, sendGate),
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, { logger, metrics, budget, lifecycle }, siblings),
    adapter,
    { logger: new PinoNestLogger(logger) },
  );
  app.useGlobalFilters(new ApiExceptionFilter(logger));
  const routes = configureHttp(app, validation, metrics);
  const authenticator = app.get<symbol, Authenticator | null>(AUTHENTICATOR);
  if (authenticator !== null)
    registerTokenGuard(app.getHttpAdapter().getInstance(), authenticator, config.auth.protectMetrics);
  registerStreamRoutes(
    dataPlane,
    app.get(StreamsController),
    app.get(StreamEventsController),
    metrics.requestDurations,
  );
  await registerOpenApi(app.getHttpAdapter().getInstance(), config);
  await app.listen(config.http.port, config.http.host);
  if (worker > 0) await listenOnOwnPort(app.getHttpServer(), config.http.host, workerOwnPort(machine, worker));
  if (siblings !== undefined) {
    await siblings.listen(app.getHttpServer(), config.http.bodyLimitBytes);
    metrics.counter(
      'ipubsub_worker_channel_calls_total',
      'Stream requests forwarded to a sibling worker of this machine over its Unix socket rather than HTTP',
      () => siblings.calls,
    );
  }
  lifecycle.markReady();
  const address = app.getHttpServer().address();
  logger.info({ address, store: config.store.type }, 'iPubSub node listening');
  logger.debug({ routes: [...dataPlane.routes, ...routes] }, 'HTTP routes');

  const stop = async (signal: string): Promise<void> => {
    if (!lifecycle.beginDraining()) return;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.warn('drain took longer than shutdown.graceSeconds; exiting');
      process.exit(0);
    }, config.shutdown.graceSeconds * 1000).unref();
    await app.get(GracefulShutdown).drain();
    closeUnusedConnections(app.getHttpServer());
    await app.close();
    lifecycle.markStopped();
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', (signal) => void stop(signal));
  // Ctrl-C reaches a worker together with its primary, which stops the workers one at a time (each handing
  // its streams to those still running); a worker stopping on its own too would hand off to leaving siblings.
  if (worker > 0) process.on('SIGINT', () => undefined);
  else process.once('SIGINT', (signal) => void stop(signal));
}

main().catch((err: unknown) => {
  // A configuration problem found while starting (an unreadable TLS file) is said plainly, as at loading.
  if (err instanceof ConfigError) {
    process.stderr.write(`ipubsub: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`ipubsub: failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
