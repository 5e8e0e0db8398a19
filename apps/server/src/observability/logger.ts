import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { AppConfig } from '../config/index.js';
import { secondsSince } from './request-durations.js';

/** Injection token of the process's pino logger. */
export const LOGGER = Symbol('LOGGER');

/**
 * One pino logger for the process: Fastify, Nest and our modules all write through it. JSON lines for log
 * collectors; with `log.format` pretty (or auto on a terminal), coloured lines through pino-pretty, which is
 * loaded only then.
 */
export async function createLogger(log: AppConfig['log'], nodeName: string): Promise<Logger> {
  const options = { level: log.level, base: { node: nodeName }, timestamp: pino.stdTimeFunctions.isoTime };
  const pretty = log.format === 'pretty' || (log.format === 'auto' && process.stdout.isTTY === true);
  if (!pretty) return pino(options);
  const { default: prettyStream } = await import('pino-pretty');
  const stream: DestinationStream = prettyStream({
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,node',
    messageFormat: '[{node}] {msg}',
    sync: true,
  });
  return pino(options, stream);
}

/**
 * The access log (`log.requests`): one info line per answered request, written when its answer has been sent.
 * Off by default, as a line per request costs more than the request itself on the stream API's hot path.
 */
export function logRequest(logger: Logger, req: IncomingMessage, res: ServerResponse, arrivedAt: number): void {
  res.once('finish', () =>
    logger.info(
      {
        method: req.method,
        url: redactAccessToken(req.url!),
        status: res.statusCode,
        ms: Math.round(secondsSince(arrivedAt) * 1e4) / 10,
        remote: req.socket.remoteAddress,
      },
      'request',
    ),
  );
}

const ACCESS_TOKEN = /([?&]access_token=)[^&]*/g;

/** A URL as logged: a bearer token in the query (a live tail's, for EventSource) is never written to a log. */
export function redactAccessToken(url: string): string {
  return url.includes('access_token=') ? url.replace(ACCESS_TOKEN, '$1[redacted]') : url;
}

/** Lets Nest's own messages (bootstrap, module init) go to pino as JSON. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.logger.info({ context }, String(message));
  }

  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }

  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }

  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }

  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}
