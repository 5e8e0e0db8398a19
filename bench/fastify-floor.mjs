// A reference beside the floor: the send route on a plain Fastify instance with the same wire schema,
// validated and serialized the way the node does it, and a handler that only pushes to a Map of arrays.
// It shows what Fastify itself costs over bare node:http (BENCH_FASTIFY=1 adds it to the send figure).
//   node bench/fastify-floor.mjs <port>      prints "listening <port>" when ready
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Fastify and the wire schemas as the server resolves them (they are the server's dependencies).
const require = createRequire(join(fileURLToPath(new URL('..', import.meta.url)), 'apps/server/package.json'));
const { default: Fastify } = await import(require.resolve('fastify'));
const { SendRequest, SendResponse } = await import(require.resolve('@ipubsub/sdk/wire'));
const { Ajv } = await import(require.resolve('ajv'));

const buffers = new Map();
const fastify = Fastify();
const strict = new Ajv({
  coerceTypes: false,
  useDefaults: false,
  removeAdditional: false,
  allErrors: false,
  strict: false,
});
fastify.setValidatorCompiler(({ schema }) => strict.compile(schema));
fastify.post(
  '/api/v1/streams/send',
  { schema: { body: SendRequest, response: { 200: SendResponse } } },
  async (request) => {
    const { streamId, messageUuid, message } = request.body;
    let buffer = buffers.get(streamId);
    if (buffer === undefined) buffers.set(streamId, (buffer = []));
    const timestamp = Date.now();
    buffer.push({ messageUuid, message, timestamp });
    return { messageUuid, timestamp: new Date(timestamp).toISOString() };
  },
);
fastify.get('/ready', async () => ({ ready: true }));
await fastify.listen({ port: Number(process.argv[2] ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening ${fastify.server.address().port}\n`);
process.on('SIGTERM', () => process.exit(0));
