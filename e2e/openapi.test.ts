import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueStreamId } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';
import { TEST_JWT_SECRET } from './support/tokens.js';

/** GET /openapi.json of a real node: a valid OpenAPI 3.1 document of every public route, true to the answers. */

interface Operation {
  security?: unknown[];
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
}
type Paths = Record<string, Record<string, Operation>>;

async function fetchDocument(server: ServerProcess): Promise<{ paths: Paths } & Record<string, unknown>> {
  const res = await fetch(`${server.url}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as { paths: Paths };
}

describe('a node without auth', () => {
  let server: ServerProcess;
  let resolved: { paths: Paths };
  const ajv = new Ajv2020({ strict: false });

  beforeAll(async () => {
    server = await ServerProcess.start({ env: { IPUBSUB_LOG_LEVEL: 'debug', IPUBSUB_LOG_FORMAT: 'json' } });
  });
  afterAll(() => server.stop());

  it('serves a document that passes an OpenAPI 3.1 validator', async () => {
    const validator = new Validator();
    const result = await validator.validate(await fetchDocument(server));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    resolved = validator.resolveRefs() as { paths: Paths };
  });

  it('documents every public route the node registered, and no route it did not', async () => {
    const line = server.log.split('\n').find((text) => text.includes('"msg":"HTTP routes"'));
    expect(line, server.log).toBeDefined();
    const registered = new Set(
      (JSON.parse(line!) as { routes: string[] }).routes.filter(
        // HEAD is Fastify's automatic twin of each GET; /docs/* are the assets of the page at /docs.
        (route) => !route.startsWith('HEAD ') && !route.includes(' /internal/') && !route.includes(' /docs/'),
      ),
    );
    const documented = new Set(
      Object.entries(resolved.paths).flatMap(([path, item]) =>
        Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
      ),
    );
    expect([...registered].sort()).toEqual([...documented].sort());
    expect(registered).toContain('POST /api/v1/streams/send');
    expect(registered).toContain('GET /api/v1/cluster/owner');
  });

  /** Checks a real answer against the schema the document gives for that route and status. */
  async function expectDocumented(res: Response, path: string, method: string): Promise<unknown> {
    const body = (await res.json()) as unknown;
    const answer = resolved.paths[path][method].responses[String(res.status)];
    expect(answer, `${method} ${path} answered ${res.status}, which is not documented`).toBeDefined();
    const validate = ajv.compile(answer.content!['application/json'].schema);
    expect(validate(body), `${JSON.stringify(body)}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    return body;
  }

  it('describes what the node really answers', async () => {
    const streamId = uniqueStreamId('openapi');
    const send = (body: unknown) => server.send(body);
    await expectDocumented(
      await send({ streamId, messageUuid: 'a', message: { n: 1 } }),
      '/api/v1/streams/send',
      'post',
    );
    await expectDocumented(await send({ streamId, messageUuid: 'b', message: [2] }), '/api/v1/streams/send', 'post');
    await expectDocumented(await send({ streamId, message: 'no uuid' }), '/api/v1/streams/send', 'post');
    await expectDocumented(await server.receive({ streamId }), '/api/v1/streams/receive', 'get');
    await expectDocumented(await server.receive({ streamId, maxMessages: 5 }), '/api/v1/streams/receive', 'get');
    await expectDocumented(await server.receive({ streamId, timeoutSeconds: 0 }), '/api/v1/streams/receive', 'get');
    for (const path of ['/api/v1/cluster', `/api/v1/cluster/owner?streamId=${streamId}`, '/health', '/ready']) {
      await expectDocumented(await fetch(server.url + path), path.split('?')[0], 'get');
    }
  });

  it('serves the interactive reference at /docs, reading the same document', async () => {
    const res = await fetch(`${server.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('swagger-ui');
    const uiDocument = (await (await fetch(`${server.url}/docs/json`)).json()) as { paths: Paths };
    expect(Object.keys(uiDocument.paths)).toEqual(Object.keys((await fetchDocument(server)).paths));
  });
});

describe('a node with auth.mode jwt', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await ServerProcess.start({ env: { IPUBSUB_AUTH_MODE: 'jwt', IPUBSUB_AUTH_JWT_SECRET: TEST_JWT_SECRET } });
  });
  afterAll(() => server.stop());

  it('declares the bearer scheme, on the stream and cluster API only, and stays readable without a token', async () => {
    const document = await fetchDocument(server);
    expect(document.components).toMatchObject({ securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } });
    const { paths } = document;
    expect(paths['/api/v1/streams/send'].post.security).toEqual([{ bearer: [] }]);
    expect(paths['/api/v1/streams/receive'].get.security).toEqual([{ bearer: [] }]);
    expect(paths['/api/v1/cluster'].get.security).toEqual([{ bearer: [] }]);
    expect(paths['/api/v1/streams/send'].post.responses).toHaveProperty('401');
    expect(paths['/health'].get.security).toBeUndefined();
    expect(paths['/metrics'].get.security).toBeUndefined();
    expect((await new Validator().validate(document)).valid).toBe(true);
  });
});
