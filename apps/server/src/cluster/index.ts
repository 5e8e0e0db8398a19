export { ClusterModule } from './cluster.module.js';
export { ClusterRouter, HERE, type Placement } from './router.js';
export { AUTH_HEADER, ClusterAuth, GRANT_HEADER, HOP_HEADER } from './auth.js';
export { HandOff } from './handoff.js';
export { Membership, type MemberView } from './membership/membership.js';
export { formatAddress } from './membership/udp-transport.js';
export {
  INTERNAL_CONTENT_TYPE,
  PeerClient,
  PeerUnreachable,
  type Abandoned,
  type BodySink,
  type DirectBody,
  type PeerRequest,
  type PeerResponse,
  type SiblingRoutes,
} from './peer-client.js';
export type { RingMember } from './ring.js';
export { StoredHomes } from './stored-homes.js';
