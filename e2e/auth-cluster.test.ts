import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterAuth } from '../apps/server/src/cluster/auth.js';
import { expectError } from './support/api-helpers.js';
import { TestCluster } from './support/cluster.js';
import { bearer, signToken, TEST_JWT_SECRET } from './support/tokens.js';

/** A three-member cluster with `auth.mode: jwt`: the entry node decides, the owner trusts only a signed decision. */

const CLUSTER_SECRET = 'e2e-cluster-secret-0123456789abcdefghij';

describe('a cluster with auth.mode jwt', () => {
  let cluster: TestCluster;
  let headers: Record<string, string>;
  beforeAll(async () => {
    const token = await signToken(TEST_JWT_SECRET, { send: ['orders.*'], receive: ['orders.*'] });
    headers = bearer(token);
    cluster = await TestCluster.start(
      3,
      { IPUBSUB_AUTH_MODE: 'jwt', IPUBSUB_AUTH_JWT_SECRET: TEST_JWT_SECRET, IPUBSUB_CLUSTER_SECRET: CLUSTER_SECRET },
      3,
      headers,
    );
  });
  afterAll(() => cluster?.stop());

  it('serves a request that enters through a node that does not own the stream', async () => {
    const streamId = await cluster.streamOwnedBy('node-1', 'orders.entry');
    const entry = cluster.node('node-2');
    const json = { ...headers, 'content-type': 'application/json' };
    const sent = await entry.send({ streamId, messageUuid: 'm-1', message: { n: 1 } }, { headers: json });
    expect(sent.status, await sent.clone().text()).toBe(200);
    const received = await cluster.node('node-3').receive({ streamId, timeoutSeconds: 0 }, { headers });
    expect(received.status).toBe(200);
    expect(((await received.json()) as { message: unknown }).message).toEqual({ n: 1 });
    // Refused on entry, never forwarded: no token, and a stream outside the scopes.
    await expectError(await entry.send({ streamId, messageUuid: 'm-2', message: 1 }), 401, 'UNAUTHORIZED');
    const elsewhere = await cluster.streamOwnedBy('node-1', 'payments');
    await expectError(
      await entry.send({ streamId: elsewhere, messageUuid: 'm-3', message: 1 }, { headers: json }),
      403,
      'FORBIDDEN',
    );
  });

  it('refuses a forwarded request without a valid signature, or whose signed grant names another stream', async () => {
    const secret = await cluster.streamOwnedBy('node-1', 'payments.secret');
    const owner = cluster.node('node-1');
    const send = (extra: Record<string, string>) =>
      owner.send(
        { streamId: secret, messageUuid: 'forged', message: 1 },
        {
          headers: { 'content-type': 'application/json', 'x-ipubsub-hop': '1', ...extra },
        },
      );
    await expectError(await send({}), 400, 'INVALID_REQUEST');
    await expectError(
      await send({ 'x-ipubsub-grant': `send ${secret}`, 'x-ipubsub-auth': `${Date.now()}.forged` }),
      400,
      'INVALID_REQUEST',
    );
    // Signed by a member for an allowed stream, replayed with the body of another.
    const auth = new ClusterAuth(CLUSTER_SECRET);
    const grant = 'send orders.allowed';
    const signed = auth.signRequest('POST', '/api/v1/streams/send', 1, '', Date.now(), grant);
    await expectError(await send({ 'x-ipubsub-grant': grant, 'x-ipubsub-auth': signed }), 400, 'INVALID_REQUEST');
    // Nothing reached the stream.
    const check = await owner.receive(
      { streamId: secret, timeoutSeconds: 0 },
      { headers: bearer(await signToken(TEST_JWT_SECRET, { receive: ['*'] })) },
    );
    await expectError(check, 424, 'NO_MESSAGE');
  });
});
