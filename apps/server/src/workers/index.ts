export { listenOnOwnPort } from './own-port.js';
export { SiblingChannel } from './sibling-channel.js';
export { serveSiblings } from './sibling-server.js';
export { WorkerSupervisor } from './supervisor.js';
export {
  checkWorkerConfig,
  siblingSocket,
  siblingSockets,
  WORKER_INDEX_ENV,
  WORKER_SOCKETS_ENV,
  workerConfig,
  workerCount,
  workerOwnPort,
} from './worker-config.js';
