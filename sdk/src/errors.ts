import type { ErrorCode } from './wire-types.generated.js';

/** Base of every error the client throws: an error answer of the server, or a network failure. */
export class IPubSubError extends Error {
  override name = 'IPubSubError';

  constructor(
    message: string,
    /** HTTP status of the answer; 0 when none arrived. */
    readonly status: number,
    /** The server's stable code, `NETWORK_ERROR`, or `HTTP_<status>` for an answer without one (a proxy's). */
    readonly code: ErrorCode | 'NETWORK_ERROR' | `HTTP_${number}`,
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

/** No answer arrived (connection refused or dropped), after every retry; `cause` holds the last failure. */
export class NetworkError extends IPubSubError {
  override name = 'NetworkError';
}

// Guards compare `name`, not the prototype, so they also recognise errors from another copy of the SDK.
const named =
  <E extends IPubSubError>(...names: string[]) =>
  (error: unknown): error is E =>
    names.includes((error as Error | null)?.name as string);

export const isSendTimeoutError = named<SendTimeoutError>('SendTimeoutError');
export const isValidationError = named<ValidationError>('ValidationError');
export const isNetworkError = named<NetworkError>('NetworkError');
export const isIPubSubError = named<IPubSubError>(
  'IPubSubError',
  'SendTimeoutError',
  'ValidationError',
  'NetworkError',
);

/** The error for an answer with this status and body; a 424 here is a send's. */
export function errorFor(status: number, body: { error?: string; code?: ErrorCode }): IPubSubError {
  const Class = status === 400 ? ValidationError : status === 424 ? SendTimeoutError : IPubSubError;
  return new Class(body.error ?? `HTTP ${status}`, status, body.code ?? `HTTP_${status}`);
}
