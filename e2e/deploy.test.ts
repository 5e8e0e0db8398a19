import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { uniqueStreamId } from './support/api-helpers.js';
import { freePort, REPO_ROOT, ServerProcess } from './support/server.js';
import { TEST_JWT_SECRET } from './support/tokens.js';

/** deploy/: the Grafana dashboard and the Prometheus alerts refer only to metrics a node really exports. */

const DASHBOARD = join(REPO_ROOT, 'deploy/grafana/ipubsub.json');
const ALERTS = join(REPO_ROOT, 'deploy/prometheus/alerts.yml');

interface Panel {
  targets?: { expr: string }[];
}
interface RuleFile {
  groups: { rules: { alert: string; expr: string }[] }[];
}

/** Every PromQL expression of the dashboard and the alert rules. */
function expressions(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
  const rules = parseYaml(readFileSync(ALERTS, 'utf8')) as RuleFile;
  return [
    ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)),
    ...rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr)),
  ];
}

/** The metric families of a Prometheus text page, from its `# TYPE` lines (a family may have no sample yet). */
async function families(server: ServerProcess): Promise<Set<string>> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (match === null) continue;
    names.add(match[1]);
    if (match[2] === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(match[1] + suffix);
  }
  return names;
}

describe('a node with every optional part on (cluster, auth)', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await ServerProcess.start({
      // Seeds that never answer: the node runs its cluster parts without a second process.
      env: {
        IPUBSUB_CLUSTER_SEEDS: `127.0.0.1:${await freePort()}`,
        IPUBSUB_CLUSTER_GOSSIP_PORT: String(await freePort()),
        IPUBSUB_CLUSTER_SECRET: 'deploy-test-cluster-secret-0123456789',
        IPUBSUB_STORE_ALLOWNODELOCALINCLUSTER: 'true',
        IPUBSUB_AUTH_MODE: 'jwt',
        IPUBSUB_AUTH_JWT_SECRET: TEST_JWT_SECRET,
      },
      waitReady: false,
    });
  });
  afterAll(() => server.stop());

  it('exports every ipubsub metric the dashboard and the alerts use', async () => {
    // A request, so that the latency histogram has a series.
    await server.send({ streamId: uniqueStreamId('deploy'), messageUuid: 'm', message: 1 });
    const exported = await families(server);
    const used = new Set(expressions().flatMap((expr) => expr.match(/\bipubsub_[a-z0-9_]+/g) ?? []));
    expect(used.size).toBeGreaterThan(20);
    const missing = [...used].filter((name) => !exported.has(name));
    expect(missing, server.log).toEqual([]);
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  const promtool = spawnSync('promtool', ['--version']).status === 0;

  it.skipIf(!promtool && process.env.CI === undefined)(
    'passes promtool check rules (Debian package prometheus)',
    () => {
      expect(promtool, 'promtool is not installed: apt-get install prometheus (.ci/run does)').toBe(true);
      const output = execFileSync('promtool', ['check', 'rules', ALERTS], { encoding: 'utf8' });
      expect(output).toMatch(/SUCCESS: \d+ rules found/);
    },
  );
});
