import { types } from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { replicationCql } from './cassandra-schema.js';
import { CassandraUrlError, parseCassandraUrl, redactCassandraUrl } from './cassandra-settings.js';

describe('parseCassandraUrl', () => {
  it('reads hosts, keyspace and data centre, with production defaults', () => {
    expect(parseCassandraUrl('cassandra://10.0.0.1:9042,10.0.0.2,[::1]:9043/messages?dc=eu-west')).toEqual({
      contactPoints: ['10.0.0.1:9042', '10.0.0.2:9042', '[::1]:9043'],
      keyspace: 'messages',
      localDataCenter: 'eu-west',
      consistency: types.consistencies.localQuorum,
      replication: null,
      credentials: null,
      bucketMs: 3_600_000,
      bucketMessages: 10_000,
    });
  });

  it('reads consistency, replication, bucket sizes and credentials', () => {
    const settings = parseCassandraUrl(
      'cassandra://app%40corp:p%3Ass@db/ks_1?dc=dc1&consistency=one&replication=NetworkTopologyStrategy:dc1=3,dc2=2&bucketSeconds=600&bucketMessages=500',
    );
    expect(settings).toMatchObject({
      consistency: types.consistencies.one,
      replication: { class: 'NetworkTopologyStrategy', dataCenters: { dc1: 3, dc2: 2 } },
      credentials: { username: 'app@corp', password: 'p:ss' },
      bucketMs: 600_000,
      bucketMessages: 500,
    });
    expect(parseCassandraUrl('cassandra://db/ks?dc=dc1&replication=SimpleStrategy:1').replication).toEqual({
      class: 'SimpleStrategy',
      replicationFactor: 1,
    });
  });

  it.each([
    ['postgres://db/ks?dc=dc1', /must look like cassandra:\/\//],
    ['cassandra://db/?dc=dc1', /keyspace "" must be/],
    ['cassandra://db/Mixed?dc=dc1', /keyspace "Mixed" must be/],
    ['cassandra://db/ks', /needs \?dc=/],
    ['cassandra://db/ks?dc=dc1&consistancy=ONE', /unknown parameter "consistancy"/],
    ['cassandra://db/ks?dc=dc1&consistency=SERIAL', /consistency "SERIAL" is not one of/],
    ['cassandra://db/ks?dc=dc1&replication=SimpleStrategy:0', /replication "SimpleStrategy:0"/],
    [
      'cassandra://db/ks?dc=dc1&replication=NetworkTopologyStrategy:dc1=3,dc2',
      /replication "NetworkTopologyStrategy:dc1=3,dc2"/,
    ],
    ['cassandra://db/ks?dc=dc1&replication=LocalStrategy', /replication "LocalStrategy"/],
    ['cassandra://db:99999/ks?dc=dc1', /host "db:99999"/],
    ['cassandra://db/ks?dc=dc1&bucketSeconds=0', /bucketSeconds must be a positive integer/],
    ['cassandra://db/ks?dc=dc1&bucketMessages=1.5', /bucketMessages must be a positive integer/],
  ])('refuses %s', (url, message) => {
    expect(() => parseCassandraUrl(url)).toThrow(CassandraUrlError);
    expect(() => parseCassandraUrl(url)).toThrow(message);
  });

  it('hides the password in messages', () => {
    expect(redactCassandraUrl('cassandra://app:secret@db:9042/ks?dc=dc1')).toBe(
      'cassandra://app:***@db:9042/ks?dc=dc1',
    );
    expect(redactCassandraUrl('cassandra://db:9042/ks?dc=dc1')).toBe('cassandra://db:9042/ks?dc=dc1');
  });
});

describe('replicationCql', () => {
  it('writes the keyspace replication map', () => {
    expect(replicationCql({ class: 'SimpleStrategy', replicationFactor: 1 })).toBe(
      "{'class': 'SimpleStrategy', 'replication_factor': 1}",
    );
    expect(replicationCql({ class: 'NetworkTopologyStrategy', dataCenters: { dc1: 3, dc2: 2 } })).toBe(
      "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}",
    );
  });
});
