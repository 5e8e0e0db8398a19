import type { ErrorCode } from '@ipubsub/sdk/wire';

/**
 * A refusal any layer may raise (a full memory budget, an unreachable store, a request the node will not
 * serve), carrying the stable wire code clients act on and a message for people. Only the api layer turns it
 * into an HTTP answer (`{error, code}` with the code's status), so the layers below never speak HTTP.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
