import type { ErrorCode } from './wire-types.generated.js';

/** Codes of failures the client itself detects, where no server code applies. */
export type ClientErrorCode = 'NETWORK_ERROR' | 'TIMEOUT' | 'PROTOCOL_ERROR';

/** Base of every error the client throws: an error answer of the server, a network failure, a timeout. */
export class IPubSubError extends Error {
  override name = 'IPubSubError';

  constructor(
    message: string,
    /** HTTP status of the answer; 0 when none arrived. */
    readonly status: number,
    /** The server's stable code, one of the client's own, or `HTTP_<status>` for an answer without one (a proxy's). */
    readonly code: ErrorCode | ClientErrorCode | `HTTP_${number}`,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A blocking or sync-match send that timed out (424): nobody made room or took the message in time. */
export class SendTimeoutError extends IPubSubError {
  override name = 'SendTimeoutError';
}

/** The server rejected the request as invalid (400); retrying cannot help, so it never is. */
export class ValidationError extends IPubSubError {
  override name = 'ValidationError';
}

/** The server wants a valid bearer token (401): none was given, or it is expired or badly signed. */
export class UnauthorizedError extends IPubSubError {
  override name = 'UnauthorizedError';
}

/** The token does not allow this action on this stream (403); retrying cannot help, so it never is. */
export class ForbiddenError extends IPubSubError {
  override name = 'ForbiddenError';
}

/** No answer arrived (connection refused or dropped), after every retry; `cause` holds the last failure. */
export class NetworkError extends IPubSubError {
  override name = 'NetworkError';
}

/** No answer within the client's deadline (`requestTimeoutMs`, plus the wait a long poll or blocking send asked for). */
export class TimeoutError extends IPubSubError {
  override name = 'TimeoutError';
}

/** An answer the client cannot read: a 2xx whose body is not JSON (a proxy's HTML page, say). */
export class ProtocolError extends IPubSubError {
  override name = 'ProtocolError';
}

// Guards compare `name` (and the fields every IPubSubError has), not the prototype, so they also recognise errors
// from another copy of the SDK; the fields keep out platform errors of the same name (a DOMException TimeoutError).
const named =
  <E extends IPubSubError>(...names: string[]) =>
  (error: unknown): error is E => {
    const candidate = error as Partial<IPubSubError> | null;
    return (
      names.includes(candidate?.name as string) &&
      typeof candidate?.status === 'number' &&
      typeof candidate.code === 'string'
    );
  };

export const isSendTimeoutError = named<SendTimeoutError>('SendTimeoutError');
export const isValidationError = named<ValidationError>('ValidationError');
export const isUnauthorizedError = named<UnauthorizedError>('UnauthorizedError');
export const isForbiddenError = named<ForbiddenError>('ForbiddenError');
export const isNetworkError = named<NetworkError>('NetworkError');
export const isTimeoutError = named<TimeoutError>('TimeoutError');
export const isProtocolError = named<ProtocolError>('ProtocolError');
export const isIPubSubError = named<IPubSubError>(
  'IPubSubError',
  'SendTimeoutError',
  'ValidationError',
  'UnauthorizedError',
  'ForbiddenError',
  'NetworkError',
  'TimeoutError',
  'ProtocolError',
);

const ERROR_CLASSES: Record<number, typeof IPubSubError> = {
  400: ValidationError,
  401: UnauthorizedError,
  403: ForbiddenError,
  424: SendTimeoutError,
};

/** The error for an answer with this status and body; a 424 here is a send's. */
export function errorFor(status: number, body: { error?: string; code?: ErrorCode }): IPubSubError {
  const Class = ERROR_CLASSES[status] ?? IPubSubError;
  return new Class(body.error ?? `HTTP ${status}`, status, body.code ?? `HTTP_${status}`);
}
