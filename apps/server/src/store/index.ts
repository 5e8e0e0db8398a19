export { StoreModule, MESSAGE_STORE } from './store.module.js';
export { StoredStreams } from './stored-streams.js';
export { StoredStreamsHttp, storedMessageFields } from './stored-http.js';
export type {
  MessageStore,
  NewMessage,
  AppendResult,
  ReadResult,
  StoredMessage,
  StorePosition,
} from './message-store.js';
export { InvalidPositionError, StoreUnavailableError } from './message-store.js';
