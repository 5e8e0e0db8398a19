import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { checkClusterSecret, ConfigError, NODE_LOCAL_STORES, type AppConfig } from '../config/index.js';
import { formatAddress } from '../cluster/index.js';

/** The environment variable that tells a forked process which worker (1…n) it is. */
export const WORKER_INDEX_ENV = 'IPUBSUB_WORKER_INDEX';
/** The environment variable naming the machine's private directory (0700) of sibling channel sockets. */
export const WORKER_SOCKETS_ENV = 'IPUBSUB_WORKER_SOCKETS';
/** A Unix socket's path may not be longer than about 107 bytes (Linux: 108 with the terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 100;

/** How many worker processes `node.workers` asks for: `auto` is one per core this process may use. */
export function workerCount(config: AppConfig): number {
  return config.node.workers === 'auto' ? availableParallelism() : config.node.workers;
}

/** Host and port of `host:port` or `[v6]:port`, for replacing the port. */
function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), Number(address.slice(at + 1))];
}

const isWildcard = (host: string): boolean => host === '0.0.0.0' || host === '::' || host === '';

/** Where siblings on this machine reach an address bound to `host`. */
const localHost = (host: string): string => (isWildcard(host) ? '127.0.0.1' : host);

/** `url` with its port (explicit or the scheme's default) moved up by `offset`. */
function urlWithPortOffset(url: string, offset: number): string {
  const parsed = new URL(url);
  const port = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
  parsed.port = String(port + offset);
  return parsed.toString().replace(/\/+$/, '');
}

/**
 * Refuses settings that workers cannot share: each worker listens on the public port plus its index for
 * direct routing and gossips on the gossip port plus its index, so neither may be chosen by the OS (0).
 */
export function checkWorkerConfig(config: AppConfig, workers: number): void {
  if (workers === 1) return;
  if (config.http.port === 0)
    throw new ConfigError('http.port 0 cannot be used with node.workers > 1: worker i listens on http.port + i');
  if (config.cluster.gossip.port === 0)
    throw new ConfigError(
      'cluster.gossip.port 0 cannot be used with node.workers > 1: worker i gossips on cluster.gossip.port + i',
    );
  const { http, cluster } = config;
  if (cluster.seeds.length > 0 && http.advertiseUrl === undefined && isWildcard(http.host))
    throw new ConfigError(
      'http.advertiseUrl must be set when http.host is a wildcard address and cluster.seeds join other machines',
    );
  if (cluster.seeds.length > 0 && cluster.gossip.advertise === undefined && isWildcard(cluster.gossip.host))
    throw new ConfigError(
      'cluster.gossip.advertise must be set when cluster.gossip.host is a wildcard address and cluster.seeds join other machines',
    );
  if (NODE_LOCAL_STORES.includes(config.store.type) && !config.store.allowNodeLocalInCluster) {
    throw new ConfigError(
      `node.workers ${workers} makes every worker a cluster member, and store.type ${config.store.type} keeps ` +
        `each stream's stored messages on one worker only (unreadable while it restarts). Use a store every ` +
        `worker shares, or accept that with store.allowNodeLocalInCluster: true (IPUBSUB_STORE_ALLOWNODELOCALINCLUSTER=true).`,
    );
  }
  checkClusterSecret(config);
  const highest = Math.max(config.http.port, config.cluster.gossip.port) + workers;
  if (highest > 65535) throw new ConfigError(`node.workers ${workers}: worker ports would go past 65535`);
}

/**
 * The configuration of worker `index` (1…`workers`) of a machine: a ring member of its own, named
 * `<node.name>-w<index>`, reachable directly on `http.port + index` (while it also serves the shared public
 * port) and gossiping on `cluster.gossip.port + index`, with every sibling among its seeds. An embedded store
 * gets a directory per worker, as two processes cannot share one.
 */
export function workerConfig(config: AppConfig, index: number, workers: number): AppConfig {
  const { http, cluster, store } = config;
  const [gossipHost, gossipBase] =
    cluster.gossip.advertise === undefined
      ? [localHost(cluster.gossip.host), cluster.gossip.port]
      : splitAddress(cluster.gossip.advertise);
  const siblings = Array.from({ length: workers }, (_, i) => formatAddress(gossipHost, gossipBase + i + 1));
  const name = `${config.node.name}-w${index}`;
  const host = localHost(http.host);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    ...config,
    node: { ...config.node, name },
    http: {
      ...http,
      advertiseUrl: urlWithPortOffset(http.advertiseUrl ?? `http://${urlHost}:${http.port}`, index),
    },
    cluster: {
      ...cluster,
      gossip: {
        ...cluster.gossip,
        port: cluster.gossip.port + index,
        advertise: formatAddress(gossipHost, gossipBase + index),
      },
      seeds: [...new Set([...cluster.seeds, ...siblings])],
    },
    store: store.path === undefined ? store : { ...store, path: join(store.path, name) },
  };
}

/** The port worker `index` serves alone, for direct routing to it. */
export function workerOwnPort(config: AppConfig, index: number): number {
  return config.http.port + index;
}

/** Where worker `index` takes forwarded requests from its siblings (`serveSiblings`). */
export function siblingSocket(directory: string, index: number): string {
  return join(directory, `w${index}.sock`);
}

/** Whether sockets of `workers` workers fit in `directory`'s paths. */
export function socketsFit(directory: string, workers: number): boolean {
  return Buffer.byteLength(siblingSocket(directory, workers)) <= MAX_SOCKET_PATH_BYTES;
}

/**
 * For worker `index`, each sibling's URL as the ring names it (its `http.advertiseUrl`) → its channel socket:
 * the members that forwarding reaches without HTTP.
 */
export function siblingSockets(
  config: AppConfig,
  index: number,
  workers: number,
  directory: string,
): Map<string, string> {
  const sockets = new Map<string, string>();
  for (let sibling = 1; sibling <= workers; sibling++) {
    if (sibling === index) continue;
    sockets.set(workerConfig(config, sibling, workers).http.advertiseUrl!, siblingSocket(directory, sibling));
  }
  return sockets;
}
