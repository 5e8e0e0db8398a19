import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/index.js';
import { checkWorkerConfig, siblingSockets, workerConfig, workerCount } from './worker-config.js';

// Anonymous access allowed: some cases bind wildcard addresses, which auth otherwise refuses without it.
const config = (env: Record<string, string> = {}) =>
  loadConfig(undefined, {
    IPUBSUB_HTTP_PORT: '9000',
    IPUBSUB_CLUSTER_GOSSIP_PORT: '7000',
    IPUBSUB_AUTH_ALLOWANONYMOUS: 'true',
    IPUBSUB_STORE_ALLOWNODELOCALINCLUSTER: 'true',
    ...env,
  });

describe('workerConfig', () => {
  it('makes worker i a ring member named <name>-w<i> on http.port + i and gossip port + i, seeded with its siblings', () => {
    const worker = workerConfig(config({ IPUBSUB_NODE_NAME: 'box', IPUBSUB_STORE_PATH: '/data' }), 2, 3);
    expect(worker.node.name).toBe('box-w2');
    expect(worker.http.port).toBe(9000); // the shared public port
    expect(worker.http.advertiseUrl).toBe('http://127.0.0.1:9002');
    expect(worker.cluster.gossip.port).toBe(7002);
    expect(worker.cluster.gossip.advertise).toBe('127.0.0.1:7002');
    expect(worker.cluster.seeds).toEqual(['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003']);
    expect(worker.store.path).toBe('/data/box-w2');
  });

  it('keeps configured seeds and moves advertised addresses by the worker index', () => {
    const worker = workerConfig(
      config({
        IPUBSUB_HTTP_HOST: '0.0.0.0',
        IPUBSUB_HTTP_ADVERTISEURL: 'http://box.example:9000',
        IPUBSUB_CLUSTER_GOSSIP_HOST: '0.0.0.0',
        IPUBSUB_CLUSTER_GOSSIP_ADVERTISE: 'box.example:7000',
        IPUBSUB_CLUSTER_SEEDS: 'seed.example:7000',
      }),
      1,
      2,
    );
    expect(worker.http.advertiseUrl).toBe('http://box.example:9001');
    expect(worker.cluster.gossip.advertise).toBe('box.example:7001');
    expect(worker.cluster.seeds).toEqual(['seed.example:7000', 'box.example:7001', 'box.example:7002']);
    expect(worker.store.path).toBeUndefined(); // ./data/<node.name> is already one per worker
  });

  it('reaches each sibling by the URL the ring names it with through a socket in the machine directory', () => {
    const sockets = siblingSockets(config({ IPUBSUB_HTTP_ADVERTISEURL: 'http://box.example:9000' }), 2, 3, '/run/x');
    expect([...sockets]).toEqual([
      ['http://box.example:9001', '/run/x/w1.sock'],
      ['http://box.example:9003', '/run/x/w3.sock'],
    ]);
  });

  it('reaches siblings on loopback when bound to a wildcard address on a machine alone', () => {
    const worker = workerConfig(config({ IPUBSUB_HTTP_HOST: '0.0.0.0', IPUBSUB_CLUSTER_GOSSIP_HOST: '::' }), 1, 2);
    expect(worker.http.advertiseUrl).toBe('http://127.0.0.1:9001');
    expect(worker.cluster.seeds).toEqual(['127.0.0.1:7001', '127.0.0.1:7002']);
  });
});

describe('node.workers', () => {
  it('defaults to 1, takes a number or auto from the environment, and refuses 0 and other words', () => {
    expect(workerCount(config())).toBe(1);
    expect(workerCount(config({ IPUBSUB_NODE_WORKERS: '4' }))).toBe(4);
    expect(workerCount(config({ IPUBSUB_NODE_WORKERS: 'auto' }))).toBeGreaterThanOrEqual(1);
    expect(() => config({ IPUBSUB_NODE_WORKERS: '0' })).toThrow(ConfigError);
    expect(() => config({ IPUBSUB_NODE_WORKERS: 'many' })).toThrow(/node\.workers/);
  });

  it('refuses ports the OS would choose, wildcard addresses other machines could not reach, a node-local store unasked', () => {
    expect(() => checkWorkerConfig(config({ IPUBSUB_HTTP_PORT: '0' }), 2)).toThrow(/http\.port 0/);
    expect(() => checkWorkerConfig(config({ IPUBSUB_CLUSTER_GOSSIP_PORT: '0' }), 2)).toThrow(/gossip\.port 0/);
    expect(() => checkWorkerConfig(config({ IPUBSUB_HTTP_PORT: '65535' }), 2)).toThrow(/65535/);
    expect(() =>
      checkWorkerConfig(config({ IPUBSUB_HTTP_HOST: '0.0.0.0', IPUBSUB_CLUSTER_SEEDS: 'seed:7000' }), 2),
    ).toThrow(/advertiseUrl/);
    expect(() => checkWorkerConfig(config({ IPUBSUB_STORE_ALLOWNODELOCALINCLUSTER: 'false' }), 2)).toThrow(
      /store.allowNodeLocalInCluster/,
    );
    expect(() => checkWorkerConfig(config({ IPUBSUB_HTTP_PORT: '0' }), 1)).not.toThrow();
    // Workers forward to one another: with auth.mode jwt the owner trusts only decisions signed with the secret.
    const jwt = { IPUBSUB_AUTH_MODE: 'jwt', IPUBSUB_AUTH_JWT_SECRET: 'x'.repeat(32) };
    expect(() => checkWorkerConfig(config(jwt), 2)).toThrow(/cluster\.secret must be at least 32/);
    expect(() => checkWorkerConfig(config({ ...jwt, IPUBSUB_CLUSTER_SECRET: 'y'.repeat(32) }), 2)).not.toThrow();
    expect(() => checkWorkerConfig(config(), 2)).not.toThrow();
  });
});
