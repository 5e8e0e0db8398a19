import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueStreamId } from './support/api-helpers.js';
import { freeUdpPort } from './support/cluster.js';
import { runUntilExit } from './support/exit.js';
import { freePort, ServerProcess } from './support/server.js';
import { httpsRequest, makeCertificates, type TestCertificates } from './support/tls.js';

/** HTTPS with certificates made here by openssl: serving, SIGHUP rotation, and a cluster forwarding over https. */

const dir = mkdtempSync(join(tmpdir(), 'ipubsub-e2e-tls-'));
let certs: TestCertificates;
const fingerprintOf = (file: string): string => new X509Certificate(readFileSync(file)).fingerprint256;
const json = { 'content-type': 'application/json' };

beforeAll(() => {
  certs = makeCertificates(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a node with http.tls', () => {
  let node: ServerProcess;
  const certFile = join(dir, 'live.pem');
  const keyFile = join(dir, 'live.key');
  beforeAll(async () => {
    copyFileSync(certs.servers[0].certFile, certFile);
    copyFileSync(certs.servers[0].keyFile, keyFile);
    node = await ServerProcess.start({
      ca: certs.ca,
      env: { IPUBSUB_HTTP_TLS_CERTFILE: certFile, IPUBSUB_HTTP_TLS_KEYFILE: keyFile },
    });
  });
  afterAll(() => node?.stop());

  it('answers HTTPS with its certificate', async () => {
    const streamId = uniqueStreamId('tls');
    const sent = await httpsRequest(`${node.url}/api/v1/streams/send`, {
      ca: certs.ca,
      method: 'POST',
      headers: json,
      body: JSON.stringify({ streamId, messageUuid: 'm-1', message: 'over tls' }),
    });
    expect(sent.status, sent.body).toBe(200);
    expect(sent.fingerprint).toBe(fingerprintOf(certs.servers[0].certFile));
    const received = await httpsRequest(`${node.url}/api/v1/streams/receive?streamId=${streamId}&timeoutSeconds=0`, {
      ca: certs.ca,
    });
    expect(JSON.parse(received.body)).toMatchObject({ message: 'over tls' });
  });

  it('serves a new certificate after SIGHUP without dropping an open connection', async () => {
    const streamId = uniqueStreamId('tls-reload');
    // A long poll on a connection opened with the first certificate, kept open across the reload.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const waiting = httpsRequest(`${node.url}/api/v1/streams/receive?streamId=${streamId}&timeoutSeconds=30`, {
      ca: certs.ca,
      agent,
    });
    // Parked on the server, so its connection was made with the first certificate.
    for (let i = 0; i < 600; i++) {
      const metrics = await httpsRequest(`${node.url}/metrics`, { ca: certs.ca });
      if (/^ipubsub_waiting_clients 1$/m.test(metrics.body)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    copyFileSync(certs.servers[1].certFile, certFile);
    copyFileSync(certs.servers[1].keyFile, keyFile);
    node.child.kill('SIGHUP');
    const rotated = fingerprintOf(certs.servers[1].certFile);
    let seen = '';
    for (let i = 0; i < 100 && seen !== rotated; i++) {
      seen = (await httpsRequest(`${node.url}/health`, { ca: certs.ca })).fingerprint;
      if (seen !== rotated) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(seen).toBe(rotated);
    const sent = await httpsRequest(`${node.url}/api/v1/streams/send`, {
      ca: certs.ca,
      method: 'POST',
      headers: json,
      body: JSON.stringify({ streamId, messageUuid: 'm-1', message: 'after reload' }),
    });
    expect(sent.status).toBe(200);
    const answer = await waiting;
    expect(answer.fingerprint).toBe(fingerprintOf(certs.servers[0].certFile));
    expect(JSON.parse(answer.body)).toMatchObject({ message: 'after reload' });
    agent.destroy();
    expect(node.exited).toBe(false);
  });
});

describe('a three-member cluster over https with cluster.tls.caFile', () => {
  const nodes: ServerProcess[] = [];
  afterAll(() => Promise.all(nodes.map((node) => node.stop('SIGKILL'))));

  it('forwards a request that enters through a node that does not own its stream, verifying the owner', async () => {
    const gossipPorts = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
    const seeds = gossipPorts.map((port) => `127.0.0.1:${port}`).join(',');
    const [first] = certs.servers;
    const ports = [await freePort(), await freePort(), await freePort()];
    // Started together (a member waits for its seeds), then watched until every ring holds all three.
    const started = await Promise.allSettled(
      [0, 1, 2].map((i) =>
        ServerProcess.start({
          config: `config/multi-node-${i + 1}.yaml`,
          port: ports[i],
          ca: certs.ca,
          waitReady: false,
          startTimeoutMs: 60_000,
          env: {
            IPUBSUB_CLUSTER_GOSSIP_PORT: String(gossipPorts[i]),
            IPUBSUB_CLUSTER_SEEDS: seeds,
            IPUBSUB_HTTP_TLS_CERTFILE: first.certFile,
            IPUBSUB_HTTP_TLS_KEYFILE: first.keyFile,
            IPUBSUB_CLUSTER_TLS_CAFILE: certs.caFile,
          },
        }),
      ),
    );
    for (const start of started) if (start.status === 'fulfilled') nodes.push(start.value);
    for (const start of started) if (start.status === 'rejected') throw start.reason;
    const get = async (node: ServerProcess, path: string): Promise<Record<string, unknown>> =>
      JSON.parse((await httpsRequest(node.url + path, { ca: certs.ca })).body) as Record<string, unknown>;
    for (let i = 0; i < 600; i++) {
      const views = await Promise.all(nodes.map((node) => get(node, '/api/v1/cluster')));
      if (views.every((view) => (view.ring as string[]).length === 3)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const members = (await get(nodes[0], '/api/v1/cluster')).members as { http: string }[];
    expect(members.map((member) => member.http.slice(0, 8))).toEqual(['https://', 'https://', 'https://']);

    let streamId = '';
    for (let i = 0; streamId === ''; i++) {
      const candidate = `tls-forward-${i}`;
      if ((await get(nodes[1], `/api/v1/cluster/owner?streamId=${candidate}`)).owner === 'node-1') streamId = candidate;
    }
    const sent = await httpsRequest(`${nodes[1].url}/api/v1/streams/send`, {
      ca: certs.ca,
      method: 'POST',
      headers: json,
      body: JSON.stringify({ streamId, messageUuid: 'm-1', message: 'forwarded over https' }),
    });
    expect(sent.status, sent.body).toBe(200);
    const received = await httpsRequest(
      `${nodes[2].url}/api/v1/streams/receive?streamId=${streamId}&timeoutSeconds=0`,
      { ca: certs.ca },
    );
    expect(received.status, received.body).toBe(200);
    expect(JSON.parse(received.body)).toMatchObject({ message: 'forwarded over https' });
  });
});

it('a certificate file that cannot be read stops the start, naming the key', async () => {
  const { code, stderr } = await runUntilExit([], {
    IPUBSUB_HTTP_TLS_CERTFILE: join(dir, 'missing.pem'),
    IPUBSUB_HTTP_TLS_KEYFILE: join(dir, 'missing.key'),
  });
  expect(code).toBe(2);
  expect(stderr).toContain('http.tls.certFile');
});
