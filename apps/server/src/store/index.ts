export { StoreModule, MESSAGE_STORE } from './store.module.js';
export { StoredStreams } from './stored-streams.js';
export type { StoredRead } from './stored-streams.js';
export type {
  MessageStore,
  NewMessage,
  AppendResult,
  ReadResult,
  StoredMessage,
  StorePosition,
} from './message-store.js';
export { InvalidPositionError, StoreUnavailableError } from './message-store.js';
