// Issue 18's scenario on the shipped three-node configs: 100 streams × 100 stored sends (writeToDB), one owner
// SIGKILLed midway and restarted with its disk, every refused send retried; then every stream read back from the
// start through each member and from tokens taken before, during and after the outage. Prints what was
// acknowledged, readable, duplicated, reported as a gap, and how long the rings took to converge, per store:
// the embedded SQLite store with store.allowNodeLocalInCluster (as shipped), and PostgreSQL when
// IPUBSUB_TEST_POSTGRES_URL is set (`eval "$(scripts/databases.sh env)"`).
//
// The scenario is the e2e test's (e2e/support/stored-failover.ts), run at this size:
//   node bench/failover.mjs            (or: node bench/run.mjs --sections failover)
// BENCH_FAILOVER_STREAMS / BENCH_FAILOVER_PER_STREAM change the size.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './lib/processes.mjs';

const streams = process.env.BENCH_FAILOVER_STREAMS ?? '100';
const perStream = process.env.BENCH_FAILOVER_PER_STREAM ?? '100';
const child = spawn(
  join(REPO_ROOT, 'node_modules/.bin/vitest'),
  ['run', '--project', 'e2e', 'e2e/cluster-stored-failover.test.ts', '-t', 'SIGKILLed', '--testTimeout', '1800000'],
  {
    cwd: REPO_ROOT,
    env: { ...process.env, FAILOVER_STREAMS: streams, FAILOVER_PER_STREAM: perStream },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let output = '';
child.stdout.on('data', (chunk) => (output += chunk.toString()));
const [code] = await once(child, 'exit');

const rows = [...output.matchAll(/failover figures \(([^)]*)\): (\{.*\})/g)].map(([, store, json]) => [
  store,
  JSON.parse(json),
]);
process.stdout.write(
  `${streams} streams × ${perStream} stored sends, one owner SIGKILLed midway and restarted; load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}\n\n` +
    '| store | acknowledged | readable | unreadable | duplicates | misordered streams | tokens resumed | gap reports | sends retried (status: count) | reads of its streams while down (status: count) | rings converged after kill | rejoined after restart |\n' +
    '|---|---|---|---|---|---|---|---|---|---|---|---|\n',
);
for (const [store, f] of rows) {
  const tally = (t) =>
    Object.entries(t)
      .map(([status, n]) => `${status === '0' ? 'no answer' : status}: ${n}`)
      .join(', ');
  process.stdout.write(
    `| ${store} | ${f.acknowledged} | ${f.readable} | ${f.unreadable} | ${f.duplicates} | ${f.misordered} | ` +
      `${f.tokensResumed} / ${f.tokensTaken} | ${f.gapReports} | ${tally(f.retriedSends)} | ${tally(f.outageReads)} | ` +
      `${(f.convergedMs / 1000).toFixed(1)} s | ${(f.rejoinedMs / 1000).toFixed(1)} s |\n`,
  );
}
if (code !== 0) {
  process.stdout.write(`\nthe scenario failed (vitest exit ${code}):\n${output.slice(-4000)}\n`);
  process.exitCode = 1;
}
