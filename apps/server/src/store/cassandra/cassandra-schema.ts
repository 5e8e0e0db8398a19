import type { Client } from 'cassandra-driver';
import type { CassandraSettings, Replication } from './cassandra-settings.js';

/**
 * Time-window compaction for rows written once and expired by TTL: each window's SSTable is dropped whole once
 * everything in it has expired, without reading it. One-hour windows suit the default one-day TTL (about 24
 * live windows); gc_grace matches the default hint window.
 */
const TIME_WINDOWED = `compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'HOURS', 'compaction_window_size': 1}
  AND gc_grace_seconds = 10800`;

/**
 * The tables, all created `IF NOT EXISTS`. Times are epoch milliseconds; a messageUuid is a blob of its UTF-16
 * code units, so any JavaScript string (NUL, lone surrogates) round-trips and compares exactly.
 *
 * - `messages`: one partition per stream and time bucket, ordered by the owner's sequence (`writer` keeps two
 *   owners that briefly share a stream from overwriting each other). Written once with `USING TTL`.
 * - `message_ids`: the idempotency record, one tiny partition per (stream, messageUuid), same TTL as the message.
 * - `streams`: per stream, static columns for the last sequence and the latest expiry, and one row per bucket
 *   (its message count and latest expiry), so reads find the next bucket without probing empty time ranges.
 * - `expirations` and `expiration_slots`: messages by expiry time (one-minute slots, 16 shards), so
 *   purgeExpired finds what Cassandra's TTL has not removed yet.
 */
export function tablesCql(ks: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${ks}.messages (
      stream_id text, bucket bigint, seq bigint, writer int,
      message_uuid blob, created_at bigint, expires_at bigint, payload text,
      PRIMARY KEY ((stream_id, bucket), seq, writer)
    ) WITH ${TIME_WINDOWED}`,
    `CREATE TABLE IF NOT EXISTS ${ks}.message_ids (
      stream_id text, message_uuid blob,
      bucket bigint, seq bigint, writer int, created_at bigint,
      PRIMARY KEY ((stream_id, message_uuid))
    ) WITH ${TIME_WINDOWED}`,
    `CREATE TABLE IF NOT EXISTS ${ks}.streams (
      stream_id text, bucket bigint,
      last_seq bigint STATIC, expires_at bigint STATIC,
      bucket_messages int, bucket_expires_at bigint,
      PRIMARY KEY ((stream_id), bucket)
    ) WITH compaction = {'class': 'LeveledCompactionStrategy'} AND gc_grace_seconds = 10800`,
    `CREATE TABLE IF NOT EXISTS ${ks}.expirations (
      slot bigint, shard int, expires_at bigint,
      stream_id text, bucket bigint, seq bigint, writer int, message_uuid blob,
      PRIMARY KEY ((slot, shard), expires_at, stream_id, bucket, seq, writer)
    ) WITH ${TIME_WINDOWED}`,
    `CREATE TABLE IF NOT EXISTS ${ks}.expiration_slots (
      part int, slot bigint,
      PRIMARY KEY ((part), slot)
    ) WITH gc_grace_seconds = 10800`,
  ];
}

/** Largest default replication factor: three replicas survive one lost node at LOCAL_QUORUM. */
const DEFAULT_REPLICAS = 3;

/**
 * Creates the keyspace (when missing: an existing one keeps the replication its operator gave it) and the
 * tables. The driver waits for schema agreement after each change.
 */
export async function createSchema(client: Client, settings: CassandraSettings): Promise<void> {
  const ks = settings.keyspace;
  if (client.metadata.keyspaces[ks] === undefined) {
    const replication = settings.replication ?? defaultReplication(client, settings.localDataCenter);
    await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = ${replicationCql(replication)}`);
  }
  for (const table of tablesCql(ks)) await client.execute(table);
}

/** NetworkTopologyStrategy in the local DC with as many replicas as it has nodes, up to three. */
function defaultReplication(client: Client, dataCenter: string): Replication {
  const nodes = client.hosts.values().filter((host) => host.datacenter === dataCenter).length;
  return {
    class: 'NetworkTopologyStrategy',
    dataCenters: { [dataCenter]: Math.max(1, Math.min(DEFAULT_REPLICAS, nodes)) },
  };
}

export function replicationCql(replication: Replication): string {
  if (replication.class === 'SimpleStrategy') {
    return `{'class': 'SimpleStrategy', 'replication_factor': ${replication.replicationFactor}}`;
  }
  const factors = Object.entries(replication.dataCenters).map(([dc, factor]) => `, '${dc}': ${factor}`);
  return `{'class': 'NetworkTopologyStrategy'${factors.join('')}}`;
}
