export { listenOnOwnPort } from './own-port.js';
export { SiblingChannel } from './sibling-channel.js';
export { WorkerSupervisor } from './supervisor.js';
export { checkWorkerConfig, WORKER_INDEX_ENV, workerConfig, workerCount, workerOwnPort } from './worker-config.js';
