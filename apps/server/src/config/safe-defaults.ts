import type { TSchema } from '@sinclair/typebox';
import { ConfigSchema, NODE_LOCAL_STORES, type AppConfig } from './config.schema.js';
import { ConfigError } from './config-error.js';

/** Shortest cluster secret and HMAC key accepted once tokens guard the streams (256 bits of text). */
export const MIN_SECRET_LENGTH = 32;

/**
 * Rules across keys that keep a node from starting in an unsafe state by mistake: anonymous access on an
 * address others can reach (as Redis's protected mode), a weak key, a cluster whose forwarded requests could
 * be forged, a cluster whose stored messages would sit on one member's disk. Each message names the keys to change.
 */
export function checkSafeDefaults(config: AppConfig): void {
  const { auth, http, cluster } = config;
  if (auth.mode === 'none' && !auth.allowAnonymous && !isLoopback(http.host)) {
    throw new ConfigError(
      `http.host "${http.host}" is reachable from other machines and auth.mode is "none": anyone could send ` +
        'and receive on every stream. Set auth.mode: jwt (with auth.jwt.secret, publicKeyFile or jwksUrl), ' +
        'or auth.allowAnonymous: true if the network is trusted or a proxy in front checks who calls.',
    );
  }
  if (auth.mode === 'jwt') {
    const keys = [
      auth.jwt.secret !== '' && 'auth.jwt.secret',
      auth.jwt.publicKeyFile !== undefined && 'auth.jwt.publicKeyFile',
      auth.jwt.jwksUrl !== undefined && 'auth.jwt.jwksUrl',
    ].filter((key) => key !== false);
    if (keys.length !== 1) {
      throw new ConfigError(
        `auth.mode "jwt" needs exactly one of auth.jwt.secret, auth.jwt.publicKeyFile, auth.jwt.jwksUrl` +
          (keys.length === 0 ? ' (none is set)' : ` (${keys.join(' and ')} are set)`),
      );
    }
    if (auth.jwt.secret !== '' && auth.jwt.secret.length < MIN_SECRET_LENGTH) {
      throw new ConfigError(`auth.jwt.secret must be at least ${MIN_SECRET_LENGTH} characters`);
    }
    if (cluster.seeds.length > 0) checkClusterSecret(config);
  }
  if ((http.tls.certFile === undefined) !== (http.tls.keyFile === undefined)) {
    throw new ConfigError('http.tls.certFile and http.tls.keyFile must be set together');
  }
  refuseNodeLocalCluster(config);
}

/** How the refusal below names the shared store types; a type missing here is named as spelled in the config. */
const STORE_NAMES: Record<string, string> = {
  postgres: 'PostgreSQL',
  mysql: 'MySQL/MariaDB',
  cassandra: 'Cassandra',
  mongodb: 'MongoDB',
};

/**
 * A cluster on a node-local store keeps each stream's stored messages on one member's disk: safe only as an
 * explicit choice (see docs/operations/cluster.md), so without the opt-in the node does not start.
 */
function refuseNodeLocalCluster({ store, cluster }: AppConfig): void {
  if (cluster.seeds.length === 0 || !NODE_LOCAL_STORES.includes(store.type) || store.allowNodeLocalInCluster) return;
  const shared = (ConfigSchema.properties.store.properties.type.anyOf as TSchema[])
    .map((option) => String(option.const))
    .filter((type) => !NODE_LOCAL_STORES.includes(type))
    .map((type) => `${STORE_NAMES[type] ?? type} (store.type: ${type})`);
  throw new ConfigError(
    `store.type ${store.type} keeps stored messages on this node only, and cluster.seeds makes it a cluster member: ` +
      `a stream's stored messages would be unreadable while its member is down, and lost with its disk. ` +
      `Use a store every member shares: ${shared.join(', ')}; or, for development, accept that cost with ` +
      `store.allowNodeLocalInCluster: true (IPUBSUB_STORE_ALLOWNODELOCALINCLUSTER=true).`,
  );
}

/**
 * A cluster with `auth.mode: jwt` needs a `cluster.secret` of at least 32 characters: its members serve requests
 * forwarded to them on the strength of the entry member's signed decision. For the members that `cluster.seeds`
 * make, and for the workers of `node.workers` (ring members too).
 */
export function checkClusterSecret(config: AppConfig): void {
  if (config.auth.mode === 'jwt' && config.cluster.secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(
      `cluster.secret must be at least ${MIN_SECRET_LENGTH} characters in a cluster with auth.mode "jwt": ` +
        'members trust the access decisions of the member a request entered through, signed with it',
    );
  }
}

/** An address only this machine reaches: 127.0.0.0/8, ::1 or localhost. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}
