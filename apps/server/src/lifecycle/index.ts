export { NODE_STATES, NodeLifecycle, type NodeState } from './node-lifecycle.js';
