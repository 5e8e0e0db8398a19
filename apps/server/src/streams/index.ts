export { StreamEngine, type EngineStats } from './stream-engine.js';
export type {
  DuplicateSend,
  EngineLimits,
  HangUpSignal,
  ReceiveFailure,
  ReceiveOptions,
  ReceiveOutcome,
  SendOptions,
  SendOutcome,
  StreamMessage,
  StreamSnapshot,
} from './types.js';
