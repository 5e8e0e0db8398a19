import { types } from 'cassandra-driver';

/** How the keyspace is replicated when the store creates it. */
export type Replication =
  | { readonly class: 'SimpleStrategy'; readonly replicationFactor: number }
  | { readonly class: 'NetworkTopologyStrategy'; readonly dataCenters: Readonly<Record<string, number>> };

/** Everything `store.url` says about a Cassandra store. */
export interface CassandraSettings {
  /** `host:port` of each contact point. */
  readonly contactPoints: readonly string[];
  readonly keyspace: string;
  /** The data centre this node talks to; requests go to its replicas first. */
  readonly localDataCenter: string;
  /** Consistency of every read and write, as the driver's code. */
  readonly consistency: number;
  /** Replication of a keyspace the store creates; null: NetworkTopologyStrategy, RF min(3, nodes of the local DC). */
  readonly replication: Replication | null;
  readonly credentials: { readonly username: string; readonly password: string } | null;
  /** A stream's partition covers at most this much arrival time ... */
  readonly bucketMs: number;
  /** ... and at most this many messages. */
  readonly bucketMessages: number;
}

export const DEFAULT_PORT = 9042;
const DEFAULT_BUCKET_SECONDS = 3600;
const DEFAULT_BUCKET_MESSAGES = 10_000;
const PARAMETERS = ['dc', 'consistency', 'replication', 'bucketSeconds', 'bucketMessages'];

/** The consistency levels a store may use, by their CQL names. */
const CONSISTENCIES: Record<string, number> = {
  ONE: types.consistencies.one,
  TWO: types.consistencies.two,
  THREE: types.consistencies.three,
  QUORUM: types.consistencies.quorum,
  ALL: types.consistencies.all,
  LOCAL_QUORUM: types.consistencies.localQuorum,
  EACH_QUORUM: types.consistencies.eachQuorum,
  LOCAL_ONE: types.consistencies.localOne,
};

/** A configuration mistake in `store.url`; the node does not start. */
export class CassandraUrlError extends Error {
  override readonly name = 'CassandraUrlError';
}

/**
 * Parses `cassandra://[user[:password]@]host[:port][,host[:port]...]/keyspace?dc=<local DC>[&...]`. Optional
 * parameters: `consistency` (a CQL level, default LOCAL_QUORUM), `replication` (`SimpleStrategy:<rf>` or
 * `NetworkTopologyStrategy:<dc>=<rf>[,<dc>=<rf>...]`, used only when the keyspace is created), `bucketSeconds`
 * and `bucketMessages` (the largest partition of one stream). Unknown parameters are errors: a misspelt
 * `consistency` must not silently fall back to the default.
 */
export function parseCassandraUrl(url: string): CassandraSettings {
  const match = /^cassandra:\/\/(?:([^@/]*)@)?([^/?#@]+)\/([^/?#]*)(?:\?([^#]*))?$/.exec(url);
  if (match === null)
    throw new CassandraUrlError('store.url must look like cassandra://host:9042[,host2:9042]/keyspace?dc=datacenter1');
  const [, userInfo, hostList, keyspace, query = ''] = match;
  if (!/^[a-z][a-z0-9_]{0,47}$/.test(keyspace)) {
    throw new CassandraUrlError(
      `store.url keyspace "${keyspace}" must be 1-48 lower-case letters, digits or _, starting with a letter`,
    );
  }
  const params = new URLSearchParams(query);
  for (const name of params.keys()) {
    if (!PARAMETERS.includes(name))
      throw new CassandraUrlError(`store.url has an unknown parameter "${name}"; known: ${PARAMETERS.join(', ')}`);
  }
  const localDataCenter = params.get('dc');
  if (localDataCenter === null || localDataCenter === '') {
    throw new CassandraUrlError('store.url needs ?dc=<local data centre> (for a single test node: datacenter1)');
  }
  return {
    contactPoints: hostList.split(',').map(contactPoint),
    keyspace,
    localDataCenter,
    consistency: consistency(params.get('consistency')),
    replication: replication(params.get('replication')),
    credentials: credentials(userInfo),
    bucketMs: positiveInteger(params, 'bucketSeconds', DEFAULT_BUCKET_SECONDS) * 1000,
    bucketMessages: positiveInteger(params, 'bucketMessages', DEFAULT_BUCKET_MESSAGES),
  };
}

/** The consistency level's CQL name, for messages. */
export function consistencyName(code: number): string {
  return Object.keys(CONSISTENCIES).find((name) => CONSISTENCIES[name] === code) ?? String(code);
}

function contactPoint(hostPort: string): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(hostPort);
  const port = Number(match?.[2] ?? DEFAULT_PORT);
  if (match === null || port < 1 || port > 65_535)
    throw new CassandraUrlError(`store.url host "${hostPort}" is not host[:port]`);
  return `${match[1]}:${port}`;
}

function consistency(value: string | null): number {
  if (value === null) return types.consistencies.localQuorum;
  const code = CONSISTENCIES[value.toUpperCase()];
  if (code === undefined) {
    throw new CassandraUrlError(
      `store.url consistency "${value}" is not one of ${Object.keys(CONSISTENCIES).join(', ')}`,
    );
  }
  return code;
}

function replication(value: string | null): Replication | null {
  if (value === null) return null;
  const [strategy, factors = ''] = value.split(':', 2);
  if (strategy === 'SimpleStrategy' && /^\d+$/.test(factors) && Number(factors) >= 1) {
    return { class: 'SimpleStrategy', replicationFactor: Number(factors) };
  }
  if (strategy === 'NetworkTopologyStrategy') {
    const dataCenters: Record<string, number> = {};
    for (const entry of factors.split(',')) {
      const factor = /^([A-Za-z0-9_.-]+)=(\d+)$/.exec(entry);
      if (factor === null || Number(factor[2]) < 1) break;
      dataCenters[factor[1]] = Number(factor[2]);
    }
    if (Object.keys(dataCenters).length === factors.split(',').length)
      return { class: 'NetworkTopologyStrategy', dataCenters };
  }
  throw new CassandraUrlError(
    `store.url replication "${value}" must be SimpleStrategy:<factor> or NetworkTopologyStrategy:<dc>=<factor>[,<dc>=<factor>...]`,
  );
}

function credentials(userInfo: string | undefined): CassandraSettings['credentials'] {
  if (userInfo === undefined) return null;
  const colon = userInfo.indexOf(':');
  const username = decodeURIComponent(colon === -1 ? userInfo : userInfo.slice(0, colon));
  const password = colon === -1 ? '' : decodeURIComponent(userInfo.slice(colon + 1));
  return { username, password };
}

function positiveInteger(params: URLSearchParams, name: string, fallback: number): number {
  const value = params.get(name);
  if (value === null) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value) * 1000)) {
    throw new CassandraUrlError(`store.url ${name} must be a positive integer, got "${value}"`);
  }
  return Number(value);
}

/** The URL without its password, for messages. */
export function redactCassandraUrl(url: string): string {
  return url.replace(/^(cassandra:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}
