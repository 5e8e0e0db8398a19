export { ClusterModule } from './cluster.module.js';
export { ClusterRouter, type Route } from './router.js';
export { HandOff } from './handoff.js';
