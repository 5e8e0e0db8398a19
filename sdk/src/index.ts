export type {
  SendRequest,
  SendResponse,
  ReceiveQuery,
  ReceivedMessage,
  ReceivedBatch,
  ErrorCode,
  ErrorResponse,
  Gap,
} from './wire.js';
