export { IPubSub } from './client.js';
export { Subscription } from './subscription.js';
export {
  ForbiddenError,
  IPubSubError,
  NetworkError,
  ProtocolError,
  SendTimeoutError,
  TimeoutError,
  UnauthorizedError,
  ValidationError,
  isForbiddenError,
  isIPubSubError,
  isNetworkError,
  isProtocolError,
  isSendTimeoutError,
  isTimeoutError,
  isUnauthorizedError,
  isValidationError,
  type ClientErrorCode,
} from './errors.js';
export type {
  ClientOptions,
  ReceiveOptions,
  RequestOptions,
  RetryOptions,
  SendOptions,
  SubscribeOptions,
  SubscriptionMessage,
  TokenSource,
} from './types.js';
export type {
  ErrorCode,
  ErrorResponse,
  Gap,
  ReceiveQuery,
  ReceivedBatch,
  ReceivedMessage,
  SendRequest,
  SendResponse,
} from './wire-types.generated.js';
