export { ClusterModule } from './cluster.module.js';
export { ClusterRouter, isForwarded, type Route } from './router.js';
export { HandOff } from './handoff.js';
export { formatAddress } from './membership/udp-transport.js';
export {
  PeerUnreachable,
  type Abandoned,
  type PeerRequest,
  type PeerResponse,
  type SiblingRoutes,
} from './peer-client.js';
