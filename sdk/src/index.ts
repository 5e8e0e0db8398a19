export { IPubSub } from './client.js';
export { Subscription } from './subscription.js';
export {
  IPubSubError,
  NetworkError,
  ProtocolError,
  SendTimeoutError,
  TimeoutError,
  ValidationError,
  isIPubSubError,
  isNetworkError,
  isProtocolError,
  isSendTimeoutError,
  isTimeoutError,
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
