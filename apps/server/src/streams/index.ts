export { StreamEngine, type EngineStats } from './stream-engine.js';
export { MemoryBudget, MemoryFullError, measuredBytes } from './memory-budget.js';
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
  WaitListener,
} from './types.js';
export { PARKED } from './types.js';
