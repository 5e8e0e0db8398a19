// Send throughput with auth.mode jwt against the same build without auth, the two servers measured alternately
// round by round (BENCH_ROUNDS, at least 3) so that other work on the machine weighs on both alike. Every send
// carries the same HS256 token, as a client reusing its token does: after the first, each check is a cache hit.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { options } from './lib/options.mjs';
import { REPO_ROOT, ServerUnderTest } from './lib/processes.mjs';
import { count, heading, line, ms, summary, target } from './lib/report.mjs';
import { runSendLoad, sendLoadGenerator } from './lib/send-load.mjs';

const SECRET = 'bench-jwt-secret-0123456789abcdefghijklmnop';
const { SignJWT } = createRequire(join(REPO_ROOT, 'apps/server/package.json'))('jose');
const token = await new SignJWT({ ipubsub: { send: ['send-*'], receive: ['send-*'] } })
  .setProtectedHeader({ alg: 'HS256' })
  .setExpirationTime('1h')
  .sign(new TextEncoder().encode(SECRET));

const generator = sendLoadGenerator();
const rounds = Math.max(3, options.ROUNDS);
heading(
  'Send throughput with auth.mode jwt',
  `${generator.label}; ${options.DURATION} s per round after a ${options.WARMUP} s warm-up, ${rounds} rounds alternating`,
);
const servers = [
  ['no auth', await ServerUnderTest.ipubsub(), ''],
  [
    'jwt',
    await ServerUnderTest.ipubsub({ IPUBSUB_AUTH_MODE: 'jwt', IPUBSUB_AUTH_JWT_SECRET: SECRET }),
    `Bearer ${token}`,
  ],
];
const results = new Map(servers.map(([name]) => [name, []]));
try {
  for (const [, server, authorization] of servers)
    if (options.WARMUP > 0) await runSendLoad(generator.tool, server.port, options.WARMUP, authorization);
  for (let round = 0; round < rounds; round++) {
    // Alternate which goes first, so neither always follows the other's load.
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const [name, server, authorization] of order) {
      const cpuBefore = server.cpuSeconds();
      const r = await runSendLoad(generator.tool, server.port, options.DURATION, authorization);
      if (r.non2xx > 0) throw new Error(`${name}: ${r.non2xx} sends were not answered 200`);
      results.get(name).push({ ...r, cpuPerRequestUs: ((server.cpuSeconds() - cpuBefore) * 1e6) / r.requests });
    }
  }
} finally {
  await Promise.all(servers.map(([, server]) => server.stop()));
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
for (const [name, runs] of results) {
  line(
    name,
    `median ${count(median(runs.map((r) => r.requestsPerSecond))).padStart(7)} req/s   rounds ` +
      `${runs.map((r) => count(r.requestsPerSecond)).join(', ')}   p99 ${ms(median(runs.map((r) => r.p99Ms)))}   ` +
      `server CPU per request: median ${median(runs.map((r) => r.cpuPerRequestUs)).toFixed(1)} µs`,
  );
}
const ratios = results.get('jwt').map((r, i) => r.requestsPerSecond / results.get('no auth')[i].requestsPerSecond);
const ratio = median(ratios);
line('ratio', `jwt/no auth per round ${ratios.map((r) => r.toFixed(2)).join(', ')}; median ${ratio.toFixed(2)}`);
// What the throughput ratio would be if each server had a core to itself (the machine may be shared).
const cpu = (name) => median(results.get(name).map((r) => r.cpuPerRequestUs));
line('ratio', `by server CPU per request (no auth / jwt): ${(cpu('no auth') / cpu('jwt')).toFixed(2)}`);
const verdict = target('send throughput with auth.mode jwt ≥ 0.9× without', ratio >= 0.9);
summary('auth', [verdict]);
