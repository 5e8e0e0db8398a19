import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  scratchMongoDatabase,
  testMongoUrl,
  type ScratchMongoDatabase,
} from '../apps/server/src/store/mongodb/scratch-database.js';
import { expectError, uniqueStreamId } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';
import { FreezableProxy } from './support/tcp-proxy.js';

interface Received {
  messageUuid: string;
  message: unknown;
  dbResumeToken: string;
}

/** Generous: a request that hangs fails here, naming itself, rather than at the test's own timeout. */
const noHang = (): RequestInit => ({ signal: AbortSignal.timeout(45_000) });

const serverUrl = testMongoUrl();

// A MongoDB server that stops answering without closing its connections (a partition, a frozen process): the node
// reaches the test server (one host) through a proxy the test freezes. The store's bound on a reply, shortened here
// through the URL as an operator would, turns each stored request into a 503 instead of a wait for ever. The
// driver's monitor would also give up on a whole server within a heartbeat and a connect timeout (15-20 s) and fail
// the requests then; it is slowed down here to stand for what it cannot see: an operation's connection that gets no
// reply while the server still answers the monitor's (a stuck connection, a flow a firewall dropped).
describe.runIf(serverUrl !== null)('a MongoDB server that stops answering', () => {
  let database: ScratchMongoDatabase;
  let proxy: FreezableProxy;
  let server: ServerProcess;

  beforeAll(async () => {
    database = scratchMongoDatabase(serverUrl!);
    const target = new URL(serverUrl!);
    proxy = await FreezableProxy.start(target.hostname, Number(target.port || 27017));
    const proxied = database.url.replace(target.host, `127.0.0.1:${proxy.port}`);
    const url = `${proxied}${proxied.includes('?') ? '&' : '?'}socketTimeoutMS=1500&heartbeatFrequencyMS=600000`;
    server = await ServerProcess.start({ env: { IPUBSUB_STORE_TYPE: 'mongodb', IPUBSUB_STORE_URL: url } });
  });
  afterAll(async () => {
    await server?.stop();
    await proxy?.close();
    await database?.drop();
  });

  it('answers stored sends, stored reads and /ready 503 while frozen, and serves them again once thawed', async () => {
    const streamId = uniqueStreamId('frozen');
    expect((await server.send({ streamId, messageUuid: 'before', message: 1, writeToDB: true })).status).toBe(200);
    const first = (await (await server.receive({ streamId, readFromDB: true, timeoutSeconds: 0 })).json()) as Received;
    expect(first.messageUuid).toBe('before');

    proxy.freeze();
    const [send, read, ready] = await Promise.all([
      server.send({ streamId, messageUuid: 'during', message: 2, writeToDB: true }, noHang()),
      server.receive({ streamId, readFromDB: true, timeoutSeconds: 0, dbResumeToken: first.dbResumeToken }, noHang()),
      fetch(`${server.url}/ready`, noHang()),
    ]);
    await expectError(send, 503, 'STORE_UNAVAILABLE');
    await expectError(read, 503, 'STORE_UNAVAILABLE');
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.store).toMatch(/unreachable/);

    proxy.thaw();
    await server.waitUntil('/ready', 45_000);
    expect((await server.send({ streamId, messageUuid: 'after', message: 3, writeToDB: true })).status).toBe(200);
    const res = await server.receive({
      streamId,
      readFromDB: true,
      timeoutSeconds: 0,
      dbResumeToken: first.dbResumeToken,
    });
    expect(res.status).toBe(200);
    const next = (await res.json()) as Received;
    expect([next.messageUuid, next.message]).toEqual(['after', 3]);
  });
});
