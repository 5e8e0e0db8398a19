// What a route costs registered as a Nest controller (on @nestjs/platform-fastify, as the control plane's are)
// against the same handler on a plain Fastify instance: the figure behind registering the control plane with
// Nest and keeping data-plane routes off it (docs/decisions.md). Both serve POST /send with the SendRequest
// schema validated and the SendResponse serialized, and a handler that only pushes to a Map of arrays; they run
// in one child process on two ports, loaded in turn (autocannon) for BENCH_ROUNDS rounds each.
//   node bench/route-styles.mjs             prints requests/s and server CPU per request of each, and the ratio
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { cpuSecondsOf } from './lib/processes.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = 32;
const require = createRequire(join(fileURLToPath(new URL('..', import.meta.url)), 'apps/server/package.json'));

/** The handler both routes call. */
const buffers = new Map();
function accept({ streamId, messageUuid, message }) {
  let buffer = buffers.get(streamId);
  if (buffer === undefined) buffers.set(streamId, (buffer = []));
  const timestamp = Date.now();
  buffer.push({ messageUuid, message, timestamp });
  if (buffer.length > 100) buffer.shift();
  return { messageUuid, timestamp: new Date(timestamp).toISOString() };
}

async function serve() {
  await import(require.resolve('reflect-metadata'));
  const { default: Fastify } = await import(require.resolve('fastify'));
  const { Body, Controller, Module, Post } = await import(require.resolve('@nestjs/common'));
  const { NestFactory } = await import(require.resolve('@nestjs/core'));
  const { FastifyAdapter, RouteSchema } = await import(require.resolve('@nestjs/platform-fastify'));
  const { SendRequest, SendResponse } = await import(require.resolve('@ipubsub/sdk/wire'));
  const schema = { body: SendRequest, response: { 200: SendResponse } };

  const plain = Fastify();
  plain.post('/send', { schema }, async (request) => accept(request.body));
  await plain.listen({ port: 0, host: '127.0.0.1' });

  // The decorators a TypeScript controller would carry, applied by hand (this file is plain JS).
  class SendController {
    send(body) {
      return accept(body);
    }
  }
  Body()(SendController.prototype, 'send', 0);
  Reflect.decorate(
    [Post('send'), RouteSchema(schema)],
    SendController.prototype,
    'send',
    Object.getOwnPropertyDescriptor(SendController.prototype, 'send'),
  );
  Reflect.decorate([Controller()], SendController);
  class BenchModule {}
  Reflect.decorate([Module({ controllers: [SendController] })], BenchModule);
  const nest = await NestFactory.create(BenchModule, new FastifyAdapter(), { logger: false });
  await nest.listen(0, '127.0.0.1');

  process.stdout.write(`listening ${nest.getHttpServer().address().port} ${plain.server.address().port}\n`);
  process.on('SIGTERM', () => process.exit(0));
}

async function load(port, pid) {
  const before = cpuSecondsOf(pid);
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/send`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ streamId: 'bench', messageUuid: '0190c5b2-7d1a-7000-8000-000000000001', message: 'x' }),
  });
  if (result.non2xx !== 0 || result.errors !== 0) throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`);
  return {
    rps: result.requests.average,
    cpuUsPerRequest: ((cpuSecondsOf(pid) - before) / result.requests.total) * 1e6,
  };
}

async function compare() {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = await once(child.stdout, 'data');
  const [, nestPort, plainPort] = /listening (\d+) (\d+)/.exec(String(line));
  const runs = { nest: [], plain: [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      runs.nest.push(await load(Number(nestPort), child.pid));
      runs.plain.push(await load(Number(plainPort), child.pid));
    }
  } finally {
    child.kill('SIGTERM');
  }
  const best = (results) => ({
    rps: Math.max(...results.map((r) => r.rps)),
    cpuUsPerRequest: Math.min(...results.map((r) => r.cpuUsPerRequest)),
  });
  const nest = best(runs.nest);
  const plain = best(runs.plain);
  const row = (name, r) =>
    `${name.padEnd(22)} ${Math.round(r.rps).toString().padStart(8)} req/s  ${r.cpuUsPerRequest.toFixed(1).padStart(6)} µs CPU/request`;
  console.log(`POST /send, ${CONNECTIONS} connections, best of ${ROUNDS} alternating rounds of ${SECONDS} s`);
  console.log(row('Nest controller', nest));
  console.log(row('plain Fastify route', plain));
  console.log(
    `Nest/plain: ${(nest.rps / plain.rps).toFixed(2)}× requests/s, ${(nest.cpuUsPerRequest / plain.cpuUsPerRequest).toFixed(2)}× CPU per request`,
  );
}

if (process.argv[2] === 'serve') await serve();
else await compare();
