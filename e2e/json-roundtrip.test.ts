import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, uniqueStreamId } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';
import { storeBackends, type StoreUnderTest } from './support/stores.js';

/**
 * A message is any JSON and comes back exactly as sent, keys named __proto__, constructor and prototype
 * included, in memory and through every store; nothing in the node is polluted by them.
 */

/** Raw JSON text: a JavaScript object literal would turn `__proto__` into a prototype, not a key. */
const MESSAGE_JSON =
  '{"__proto__":{"polluted":"yes","isAdmin":true},"constructor":{"prototype":{"polluted":"yes"}},' +
  '"nested":[{"__proto__":null},{"prototype":{"__proto__":{"x":1}}}],"prototype":"p"}';

function sendRaw(server: ServerProcess, streamId: string, messageUuid: string, extra = ''): Promise<Response> {
  return fetch(`${server.url}/api/v1/streams/send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: `{"streamId":"${streamId}","messageUuid":"${messageUuid}","message":${MESSAGE_JSON}${extra}}`,
  });
}

/** The `message` of a receive answer, as the JSON text the client got. */
async function receivedMessageJson(res: Response): Promise<string> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.stringify((JSON.parse(text) as { message: unknown }).message);
}

/**
 * Were Object.prototype polluted in the node, every later send would fail: the wire schema walks the body's
 * keys, inherited enumerable ones too, and refuses unknown ones.
 */
async function expectNodeUnpolluted(server: ServerProcess): Promise<void> {
  const res = await server.send({ streamId: uniqueStreamId('clean'), messageUuid: 'c', message: {} });
  expect(res.status, await res.text()).toBe(200);
}

describe('JSON round trip in memory', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await ServerProcess.start();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('gives back __proto__, constructor and prototype keys exactly as sent', async () => {
    const streamId = uniqueStreamId('proto');
    const sent = await sendRaw(server, streamId, 'm1');
    expect(sent.status, await sent.text()).toBe(200);
    const received = await receivedMessageJson(await server.receive({ streamId, timeoutSeconds: 0 }));
    expect(received).toBe(JSON.stringify(JSON.parse(MESSAGE_JSON)));
    await expectNodeUnpolluted(server);
  });

  it('refuses such a key in the envelope, and says what is wrong with invalid JSON', async () => {
    const envelope = await fetch(`${server.url}/api/v1/streams/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"streamId":"s","messageUuid":"m","message":1,"__proto__":{"writeToDB":true}}',
    });
    await expectError(envelope, 400, 'INVALID_REQUEST');
    const invalid = await fetch(`${server.url}/api/v1/streams/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"streamId":"s",,}',
    });
    const { error } = await expectError(invalid, 400, 'INVALID_REQUEST');
    expect(error).toMatch(/^body is not valid JSON: .*position/);
    await expectNodeUnpolluted(server);
  });
});

for (const backend of storeBackends()) {
  describe(`JSON round trip through the ${backend.type} store`, () => {
    let store: StoreUnderTest;
    let server: ServerProcess;

    beforeAll(async () => {
      store = await backend.create();
      server = await ServerProcess.start({ env: store.env });
    });

    afterAll(async () => {
      await server?.stop();
      await store?.dispose();
    });

    it('stores and replays __proto__, constructor and prototype keys exactly as sent', async () => {
      const streamId = uniqueStreamId('stored-proto');
      const sent = await sendRaw(server, streamId, 'm1', ',"writeToDB":true');
      expect(sent.status, await sent.text()).toBe(200);
      // A stored read splices the stored row's JSON text into the answer: this is the row as written.
      const res = await server.receive({ streamId, readFromDB: true, timeoutSeconds: 0 });
      expect(await receivedMessageJson(res)).toBe(JSON.stringify(JSON.parse(MESSAGE_JSON)));
      await expectNodeUnpolluted(server);
    });
  });
}
