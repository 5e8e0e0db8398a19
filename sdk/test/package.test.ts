// The package as consumers get it: packed with `npm pack`, checked by publint and arethetypeswrong, installed
// into a project that has no TypeBox, type-checked strictly (declarations included), and run in ESM and CJS.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Servers, type ServerProcess } from './support.ts';

const run = promisify(execFile);
const SDK_DIR = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string): string => join(SDK_DIR, 'node_modules/.bin', name);
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const CONSUMER_ESM = `
import { IPubSub, isValidationError, type ReceivedBatch, type SendOptions, type SubscriptionMessage } from '@ipubsub/sdk';
declare const process: { argv: string[] };

interface Chat { user: string; text: string }
const client = new IPubSub({ baseUrl: process.argv[2] });
const stream = 'consumer-esm-' + Date.now();
const sent = await client.send<Chat>(stream, { user: 'ann', text: 'hi' });
const got = await client.receive<Chat>(stream, { timeoutSeconds: 1 });
const text: string | undefined = got?.message.text;
// @ts-expect-error the message type flows through: text is not a number
const wrong: number | undefined = got?.message.text;
// @ts-expect-error options are checked against the wire schema
const misspelt: SendOptions = { writeToDb: true };
await client.send<Chat>(stream, { user: 'bob', text: 'yo' });
const batch: ReceivedBatch<Chat> | null = await client.receive<Chat>(stream, { maxMessages: 5, timeoutSeconds: 0 });
await client.send<Chat>(stream, { user: 'cy', text: 'hey' });
let first: SubscriptionMessage<Chat> | undefined;
for await (const msg of client.subscribe<Chat>(stream, { timeoutSeconds: 1 })) {
  first = msg;
  break;
}
const error = await client.send(stream, 1, { inMemoryStreamSize: 0 }).catch((e: unknown) => e);
{
  // \`await using\` type-checks with this project's es2022 lib: the SDK declares what it needs.
  await using scoped = new IPubSub({ baseUrl: process.argv[2], requestTimeoutMs: 5000 });
  await scoped.send(stream, { user: 'dee', text: 'bye' });
}
await client.close();
console.log(JSON.stringify({
  same: sent.messageUuid === got?.messageUuid,
  text,
  batch: batch?.messages.map((m) => m.message.user),
  first: first?.message.text,
  validation: isValidationError(error),
  unused: [wrong, misspelt].length,
}));
`;

const CONSUMER_CJS = `
import sdk = require('@ipubsub/sdk');
declare const process: { argv: string[] };

async function main(): Promise<void> {
  const client = new sdk.IPubSub({ baseUrl: process.argv[2] });
  const stream = 'consumer-cjs-' + Date.now();
  const sent = await client.send(stream, { n: 1 });
  const got = await client.receive<{ n: number }>(stream, { timeoutSeconds: 1 });
  const n: number | undefined = got?.message.n;
  const error = await client.send('bad id!', 1).catch((e: unknown) => e);
  console.log(JSON.stringify({ same: sent.messageUuid === got?.messageUuid, n, validation: error instanceof sdk.ValidationError }));
}
void main();
`;

const servers = new Servers();
let server: ServerProcess;
let work: string;
let tarball: string;

beforeAll(async () => {
  server = await servers.start();
  work = mkdtempSync(join(tmpdir(), 'ipubsub-sdk-pack-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: SDK_DIR });
  tarball = join(work, (JSON.parse(stdout) as { filename: string }[])[0].filename);
});
afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  await servers.stopAll();
});

describe('the packed package', () => {
  it('passes publint', async () => {
    const { stdout } = await run(bin('publint'), [tarball]);
    expect(stdout).toContain('All good!');
  });

  it('passes arethetypeswrong for node16 (ESM and CJS) and bundlers', async () => {
    // node10 resolution has no `exports`, so it cannot see the server-only `./wire` subpath; it is not a target.
    const { stdout } = await run(bin('attw'), [tarball, '--profile', 'node16', '--format', 'json']);
    const report = JSON.parse(stdout) as { analysis: { problems: { resolutionKind?: string }[] } };
    expect(report.analysis.problems.filter((problem) => problem.resolutionKind !== 'node10')).toEqual([]);
  });

  // Generous: a strict tsc run over the package's declarations takes long on a loaded machine.
  it('type-checks and runs in an ESM and a CJS consumer without TypeBox installed', { timeout: 180_000 }, async () => {
    const consumer = join(work, 'consumer');
    const installed = join(consumer, 'node_modules/@ipubsub/sdk');
    mkdirSync(installed, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    writeFileSync(join(consumer, 'esm.mts'), CONSUMER_ESM);
    writeFileSync(join(consumer, 'cjs.cts'), CONSUMER_CJS);
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'node16',
          moduleResolution: 'node16',
          target: 'es2022',
          lib: ['es2022', 'dom'],
          types: [],
          strict: true,
          skipLibCheck: false, // check the package's declarations too
          outDir: 'out',
        },
        files: ['esm.mts', 'cjs.cts'],
      }),
    );
    await run(process.execPath, [TSC, '-p', consumer]).catch((error: { stdout: string }) => {
      throw new Error(`consumer does not type-check:\n${error.stdout}`);
    });

    const esm = await run(process.execPath, [join(consumer, 'out/esm.mjs'), server.url]);
    expect(JSON.parse(esm.stdout)).toEqual({
      same: true,
      text: 'hi',
      batch: ['bob'],
      first: 'hey',
      validation: true,
      unused: 2,
    });
    const cjs = await run(process.execPath, [join(consumer, 'out/cjs.cjs'), server.url]);
    expect(JSON.parse(cjs.stdout)).toEqual({ same: true, n: 1, validation: true });
  });
});
