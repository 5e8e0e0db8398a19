// `pnpm bench`: runs every benchmark section in turn, each in its own process, skipping sections whose
// script is not there. Flags become environment variables for every section: `--duration 3` (or
// `--duration=3`) sets BENCH_DURATION=3; see bench/lib/options.mjs for this repository's settings.
// `--sections http,memory` runs only those sections.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './lib/processes.mjs';

const SECTIONS = ['http', 'pair', 'memory', 'flood', 'store', 'cluster', 'auth'];

function parseFlags(argv) {
  const env = {};
  let sections = SECTIONS;
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(argv[i]);
    if (match === null) throw new Error(`unexpected argument "${argv[i]}"; flags look like --duration 3`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${match[1]} needs a value`);
    if (match[1] === 'sections') sections = value.split(',');
    else env[`BENCH_${match[1].replaceAll('-', '_').toUpperCase()}`] = value;
  }
  return { env, sections };
}

const { env, sections } = parseFlags(process.argv.slice(2));
const started = performance.now();
/** Other work on the machine skews every figure; the load average shows how much there was. */
const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
process.stdout.write(
  `iPubSub benchmark — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, loopback\n` +
    `load average at start: ${load()}\n`,
);
let failed = 0;
for (const section of sections) {
  const script = join(REPO_ROOT, 'bench', `${section}.mjs`);
  if (!existsSync(script)) {
    if (!SECTIONS.includes(section)) throw new Error(`no benchmark section "${section}" (bench/${section}.mjs)`);
    continue;
  }
  process.stdout.write(`\n== ${section} ==\n`);
  const child = spawn(process.execPath, [script], { stdio: 'inherit', env: { ...process.env, ...env } });
  const [code, signal] = await once(child, 'exit');
  if (code !== 0) {
    failed++;
    process.stdout.write(`bench/${section}.mjs failed (${signal ?? `exit ${code}`})\n`);
  }
}
process.stdout.write(
  `\nbenchmark took ${((performance.now() - started) / 1000).toFixed(0)} s; load average at the end: ${load()}\n`,
);
process.exitCode = failed === 0 ? 0 : 1;
