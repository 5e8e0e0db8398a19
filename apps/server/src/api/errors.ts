import { ArgumentsHost, Catch, HttpException, type ExceptionFilter } from '@nestjs/common';
import { ERROR_STATUS, type ErrorCode } from '@ipubsub/sdk/wire';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { Denial } from '../auth/index.js';
import { DomainError } from '../domain-error.js';

/** What `sendError` answers through: the data plane's StreamReply, or a Fastify reply (Nest's routes). */
interface ErrorReply {
  code(status: number): { send(payload: { error: string; code: ErrorCode }): unknown };
  header(name: string, value: string): unknown;
}

/** Sends `{error, code}` with the status the code is registered with; the only way the API answers an error. */
export function sendError(reply: ErrorReply, code: ErrorCode, error: string): void {
  reply.code(ERROR_STATUS[code]).send({ error, code });
}

/** A refusal raised below the api layer, answered with its code's status. */
export function sendRefusal(reply: ErrorReply, refusal: DomainError): void {
  sendError(reply, refusal.code, refusal.message);
}

/** A refused token or scope: `{error, code}` with the WWW-Authenticate challenge of RFC 6750. */
export function sendDenial(reply: ErrorReply, denial: Denial): void {
  if (denial.challenge !== undefined) reply.header('www-authenticate', denial.challenge);
  return sendError(reply, denial.code, denial.message);
}

/** A long poll let go because its stream moved to another node (cluster hand-off): the next poll reaches the new owner. */
export const STREAM_MOVED = 'stream moved to another node; poll again';

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
  validation?: unknown;
}

/** Fastify's own error codes, mapped to ours. */
const FASTIFY_ERRORS: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_REQUEST',
  FST_ERR_VALIDATION: 'INVALID_REQUEST',
};

/**
 * Turns every error that reaches Nest (validation, body parsing, unknown routes, bugs) into `{error, code}`.
 * Client mistakes are 4xx; anything unexpected is logged and answered 500 without details.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (reply.sent) return;
    const [code, message] = this.classify(exception);
    void sendError(reply, code, message);
  }

  private classify(exception: unknown): [ErrorCode, string] {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status === 404) return ['NOT_FOUND', 'no such route'];
      if (status === 405) return ['METHOD_NOT_ALLOWED', 'method not allowed'];
      if (status === 413) return ['PAYLOAD_TOO_LARGE', 'request body too large'];
      if (status === 415) return ['UNSUPPORTED_MEDIA_TYPE', exception.message];
      if (status < 500) return ['INVALID_REQUEST', exception.message];
    }
    return classifyError(exception, this.logger);
  }
}

/**
 * A refusal raised by any layer (DomainError) and Fastify's errors (validation, body parsing) as `{error, code}`;
 * anything else is a bug, logged and answered 500 without details. Used by Nest's filter and by the stream
 * API's own Fastify instance.
 */
export function classifyError(exception: unknown, logger: Logger): [ErrorCode, string] {
  if (exception instanceof DomainError) return [exception.code, exception.message];
  const error = exception as FastifyLikeError;
  const mapped = error?.code !== undefined ? FASTIFY_ERRORS[error.code] : undefined;
  if (mapped !== undefined) return [mapped, describe(error)];
  if (error?.statusCode === 413) return ['PAYLOAD_TOO_LARGE', 'request body too large'];
  if (error?.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return ['INVALID_REQUEST', error.message ?? 'invalid request'];
  }
  logger.error({ err: exception }, 'unhandled error');
  return ['INTERNAL', 'internal error'];
}

function describe(error: FastifyLikeError): string {
  // Fastify prefixes validation messages with the part checked ("body/streamId must match ...").
  return (error.message ?? 'invalid request').replace(/^querystring\b/, 'query');
}
