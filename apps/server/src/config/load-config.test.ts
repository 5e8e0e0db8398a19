import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, envName, loadConfig } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'ipubsub-config-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes YAML to a fresh file and returns its path. */
function yamlFile(text: string): string {
  const file = join(dir, `config-${files++}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** The ConfigError loading throws; fails the test if it loads. */
function configError(file: string | undefined, env: Record<string, string> = {}): ConfigError {
  try {
    loadConfig(file, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const repoFile = (path: string): string => fileURLToPath(new URL(`../../../../${path}`, import.meta.url));

describe('loadConfig', () => {
  it('applies defaults when there is no file and no environment', () => {
    const config = loadConfig(undefined, {});
    expect(config.node.name).toBe('node-1');
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 8801, bodyLimitBytes: 1_048_576, corsOrigins: [] });
    expect(config.cluster.seeds).toEqual([]);
    expect(config.streams).toEqual({ dedupWindow: 100, idleEvictionSeconds: 60 });
    expect(config.limits).toEqual({
      maxTimeoutSeconds: 300,
      maxInMemoryStreamSize: 100_000,
      maxStreams: 5_000_000,
      maxWaitersPerStream: 10_000,
      maxWaitersPerNode: 200_000,
      maxBufferedBytes: Math.floor(getHeapStatistics().heap_size_limit / 4),
      maxStreamBytes: 64 * 1024 * 1024,
    });
    expect(config.log.level).toBe('info');
  });

  it('takes a memory budget the heap can hold, and refuses one it cannot, naming the key', () => {
    expect(loadConfig(undefined, { IPUBSUB_LIMITS_MAXBUFFEREDBYTES: '1048576' }).limits.maxBufferedBytes).toBe(
      1_048_576,
    );
    const tooLarge = String(getHeapStatistics().heap_size_limit);
    expect(configError(undefined, { IPUBSUB_LIMITS_MAXBUFFEREDBYTES: tooLarge }).message).toMatch(
      /"limits\.maxBufferedBytes" \(from environment variable IPUBSUB_LIMITS_MAXBUFFEREDBYTES\).*heap limit/,
    );
  });

  it('reads the shipped single-node YAML and fills in the keys it leaves out', () => {
    const config = loadConfig(repoFile('config/single-node.yaml'), {});
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 8801, corsOrigins: ['*'] });
    expect(config.cluster.name).toBe('ipubsub-dev');
    expect(config.limits.maxWaitersPerStream).toBe(10_000);
  });

  it('lets environment variables override YAML values, typed by the schema', () => {
    const file = yamlFile('http:\n  port: 9000\n  host: 127.0.0.2\nlimits:\n  maxStreams: 10\n');
    const config = loadConfig(file, {
      IPUBSUB_HTTP_PORT: '9100',
      IPUBSUB_HTTP_CORSORIGINS: 'http://a.example, http://b.example',
      IPUBSUB_STREAMS_IDLEEVICTIONSECONDS: '0.5',
      IPUBSUB_CLUSTER_GOSSIP_PORT: '7999',
      IPUBSUB_LOG_LEVEL: 'warn',
    });
    expect(config.http.port).toBe(9100);
    expect(config.http.host).toBe('127.0.0.2'); // not overridden
    expect(config.http.corsOrigins).toEqual(['http://a.example', 'http://b.example']);
    expect(config.streams.idleEvictionSeconds).toBe(0.5);
    expect(config.cluster.gossip.port).toBe(7999);
    expect(config.limits.maxStreams).toBe(10);
    expect(config.log.level).toBe('warn');
  });

  it('takes an empty list from an empty environment variable', () => {
    const config = loadConfig(repoFile('config/single-node.yaml'), { IPUBSUB_HTTP_CORSORIGINS: '' });
    expect(config.http.corsOrigins).toEqual([]);
  });

  it('ignores IPUBSUB_ variables that name no key (the config path, test database URLs)', () => {
    const config = loadConfig(undefined, { IPUBSUB_CONFIG: 'x.yaml', IPUBSUB_TEST_POSTGRES_URL: 'postgres://x' });
    expect(config.http.port).toBe(8801);
  });

  it('accepts an empty YAML section and an empty file', () => {
    expect(loadConfig(yamlFile('http:\nlimits:\n'), {}).http.port).toBe(8801);
    expect(loadConfig(yamlFile(''), {}).http.port).toBe(8801);
  });

  it('names the key and the file for a value of the wrong type', () => {
    const file = yamlFile('http:\n  port: "8080"\n');
    const error = configError(file);
    expect(error.message).toContain('"http.port"');
    expect(error.message).toContain(file);
  });

  it('names the key for a value out of range', () => {
    expect(configError(yamlFile('http:\n  port: 70000\n')).message).toContain('"http.port"');
    expect(configError(yamlFile('limits:\n  maxWaitersPerStream: 0\n')).message).toContain(
      '"limits.maxWaitersPerStream"',
    );
    expect(configError(yamlFile('streams:\n  dedupWindow: -1\n')).message).toContain('"streams.dedupWindow"');
  });

  it('names an unknown key, nested or at the top', () => {
    expect(configError(yamlFile('http:\n  prot: 8080\n')).message).toContain('"http.prot"');
    expect(configError(yamlFile('limit:\n  maxStreams: 1\n')).message).toContain('"limit"');
  });

  it('lists the allowed values for a bad choice', () => {
    const error = configError(yamlFile('log:\n  level: loud\n'));
    expect(error.message).toContain('"log.level"');
    expect(error.message).toContain('"debug"');
  });

  it('rejects a scalar or a list where a section belongs', () => {
    expect(configError(yamlFile('http: 5\n')).message).toContain('"http"');
    expect(configError(yamlFile('limits: [1, 2]\n')).message).toContain('"limits');
  });

  it('names the key and the environment variable for a bad value from the environment', () => {
    for (const value of ['abc', '', '1.5', '-1']) {
      const error = configError(yamlFile('http:\n  port: 9000\n'), { IPUBSUB_HTTP_PORT: value });
      expect(error.message).toContain('"http.port"');
      expect(error.message).toContain('IPUBSUB_HTTP_PORT');
    }
    const error = configError(undefined, { IPUBSUB_LIMITS_MAXWAITERSPERNODE: 'many' });
    expect(error.message).toContain('"limits.maxWaitersPerNode"');
    expect(error.message).toContain('IPUBSUB_LIMITS_MAXWAITERSPERNODE');
  });

  it('refuses a cluster on a node-local store unless opted in, naming the shared stores and the key', () => {
    const seeds = { IPUBSUB_CLUSTER_SEEDS: '127.0.0.1:7901' };
    const error = configError(undefined, seeds);
    for (const expected of ['PostgreSQL', 'MySQL/MariaDB', 'Cassandra', 'store.allowNodeLocalInCluster: true'])
      expect(error.message).toContain(expected);
    expect(loadConfig(undefined, { ...seeds, IPUBSUB_STORE_ALLOWNODELOCALINCLUSTER: 'true' }).store.type).toBe(
      'sqlite',
    );
    expect(loadConfig(undefined, { ...seeds, IPUBSUB_STORE_TYPE: 'postgres' }).store.type).toBe('postgres');
    // A single node on SQLite needs no opt-in.
    expect(loadConfig(undefined, {}).store.allowNodeLocalInCluster).toBe(false);
  });

  it('says so when the file is missing, not YAML, or not a mapping', () => {
    const missing = join(dir, 'missing.yaml');
    expect(configError(missing).message).toContain(missing);
    expect(configError(yamlFile('http: [\n')).message).toMatch(/not valid YAML/);
    expect(configError(yamlFile('- 1\n- 2\n')).message).toMatch(/must hold a mapping/);
  });
});

describe('envName', () => {
  it('is IPUBSUB_ and the key path in upper case joined by _', () => {
    expect(envName(['http', 'port'])).toBe('IPUBSUB_HTTP_PORT');
    expect(envName(['limits', 'maxWaitersPerStream'])).toBe('IPUBSUB_LIMITS_MAXWAITERSPERSTREAM');
  });
});

describe('safe defaults', () => {
  const SECRET = 'x'.repeat(32);

  it('refuses anonymous access on a non-loopback host unless auth.allowAnonymous says so', () => {
    const error = configError(undefined, { IPUBSUB_HTTP_HOST: '0.0.0.0' });
    expect(error.message).toMatch(/auth\.mode/);
    expect(error.message).toMatch(/auth\.allowAnonymous/);
    expect(loadConfig(undefined, { IPUBSUB_HTTP_HOST: '0.0.0.0', IPUBSUB_AUTH_ALLOWANONYMOUS: 'true' }).http.host).toBe(
      '0.0.0.0',
    );
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost'])
      expect(loadConfig(undefined, { IPUBSUB_HTTP_HOST: host }).http.host).toBe(host);
    const jwt = { IPUBSUB_HTTP_HOST: '0.0.0.0', IPUBSUB_AUTH_MODE: 'jwt', IPUBSUB_AUTH_JWT_SECRET: SECRET };
    expect(loadConfig(undefined, jwt).auth.mode).toBe('jwt');
  });

  it('needs one key of at least 32 characters, and a cluster secret of 32 in a cluster with auth', () => {
    expect(configError(undefined, { IPUBSUB_AUTH_MODE: 'jwt' }).message).toMatch(/none is set/);
    expect(configError(undefined, { IPUBSUB_AUTH_MODE: 'jwt', IPUBSUB_AUTH_JWT_SECRET: 'short' }).message).toMatch(
      /auth\.jwt\.secret must be at least 32/,
    );
    const both = { IPUBSUB_AUTH_MODE: 'jwt', IPUBSUB_AUTH_JWT_SECRET: SECRET, IPUBSUB_AUTH_JWT_JWKSURL: 'http://x/' };
    expect(configError(undefined, both).message).toMatch(/exactly one/);
    const cluster = {
      IPUBSUB_AUTH_MODE: 'jwt',
      IPUBSUB_AUTH_JWT_SECRET: SECRET,
      IPUBSUB_CLUSTER_SEEDS: '127.0.0.1:7901',
      IPUBSUB_STORE_ALLOWNODELOCALINCLUSTER: 'true',
    };
    expect(configError(undefined, cluster).message).toMatch(/cluster\.secret must be at least 32/);
    expect(loadConfig(undefined, { ...cluster, IPUBSUB_CLUSTER_SECRET: SECRET }).cluster.secret).toBe(SECRET);
  });

  it('needs the TLS certificate and key together', () => {
    expect(configError(undefined, { IPUBSUB_HTTP_TLS_CERTFILE: '/x.pem' }).message).toMatch(/together/);
  });
});
