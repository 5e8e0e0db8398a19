import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeMetrics, uniqueStreamId, waitForWaiters } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';

/** What browsers and operators see: CORS, /health, /ready, /metrics. */

const ALLOWED = 'http://allowed.example';
let server: ServerProcess;

beforeAll(async () => {
  server = await ServerProcess.start({ env: { IPUBSUB_HTTP_CORSORIGINS: `${ALLOWED},http://other.example` } });
});

afterAll(async () => {
  await server?.stop();
});

function preflight(origin: string, path = '/api/v1/streams/send', method = 'POST'): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'content-type' },
  });
}

describe('CORS', () => {
  it('answers a preflight from an allowed origin with that origin, the method and content-type', async () => {
    const res = await preflight(ALLOWED);
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('content-type');
    const receive = await preflight(ALLOWED, '/api/v1/streams/receive?streamId=a', 'GET');
    expect(receive.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });

  it('does not allow an origin that is not configured', async () => {
    const res = await preflight('http://evil.example');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('marks actual responses, errors included, for an allowed origin', async () => {
    const streamId = uniqueStreamId('cors');
    const sent = await server.send(
      { streamId, messageUuid: 'm1', message: 1 },
      { headers: { 'content-type': 'application/json', origin: ALLOWED } },
    );
    expect(sent.status).toBe(200);
    expect(sent.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    // A page's SDK reads the ring version of a cluster node's answers (direct routing).
    expect(sent.headers.get('access-control-expose-headers')).toBe('ipubsub-ring-version');
    const empty = await server.receive(
      { streamId: uniqueStreamId('cors-empty'), timeoutSeconds: 0 },
      { headers: { origin: ALLOWED } },
    );
    expect(empty.status).toBe(424);
    expect(empty.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });
});

describe('health and readiness', () => {
  it('/health answers 200 while the process lives', async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok' });
  });

  it('/ready answers 200 with its checks when the node can take traffic', async () => {
    const res = await fetch(`${server.url}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ready' });
  });

  it('reports the node lifecycle state in /ready and as the ipubsub_node_state gauge', async () => {
    const res = await fetch(`${server.url}/ready`);
    expect(await res.json()).toMatchObject({ checks: { node: 'ok' } });
    const metrics = await scrapeMetrics(server);
    expect(metrics.get('ipubsub_node_state{state="ready"}')).toBe(1);
    for (const state of ['starting', 'draining', 'stopped'])
      expect(metrics.get(`ipubsub_node_state{state="${state}"}`)).toBe(0);
  });
});

describe('/metrics', () => {
  it('is Prometheus text whose counters and gauges follow the traffic', async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const before = await scrapeMetrics(server);
    const value = (metrics: Map<string, number>, key: string): number => metrics.get(key) ?? 0;

    const streamId = uniqueStreamId('metrics');
    const waiting = server.receive({ streamId, timeoutSeconds: 10 });
    await waitForWaiters(server, 1);
    expect(value(await scrapeMetrics(server), 'ipubsub_active_streams')).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 3; i++) await server.send({ streamId, messageUuid: `m${i}`, message: i });
    await server.send({ streamId, messageUuid: 'm0', message: 0 }); // duplicate
    expect((await waiting).status).toBe(200);
    expect((await server.receive({ streamId, timeoutSeconds: 0 })).status).toBe(200);
    expect((await server.receive({ streamId: uniqueStreamId('metrics-empty'), timeoutSeconds: 0 })).status).toBe(424);
    expect((await server.send({ streamId: 'bad id', messageUuid: 'x', message: 1 })).status).toBe(400);

    const after = await scrapeMetrics(server);
    const delta = (key: string): number => value(after, key) - value(before, key);
    expect(delta('ipubsub_sends_total{outcome="accepted"}')).toBe(3);
    expect(delta('ipubsub_sends_total{outcome="duplicate"}')).toBe(1);
    expect(delta('ipubsub_receives_total{outcome="delivered"}')).toBe(2);
    expect(delta('ipubsub_receives_total{outcome="timeout"}')).toBe(1);
    expect(value(after, 'ipubsub_waiting_clients')).toBe(0);
    expect(delta('ipubsub_http_request_duration_seconds_count{route="/api/v1/streams/send",status="200"}')).toBe(4);
    expect(delta('ipubsub_http_request_duration_seconds_count{route="/api/v1/streams/receive",status="424"}')).toBe(1);
    expect(delta('ipubsub_http_request_duration_seconds_count{route="/api/v1/streams/send",status="400"}')).toBe(1);
    const rss = [...after].find(([key]) => key.endsWith('resident_memory_bytes'));
    expect(rss?.[1]).toBeGreaterThan(0);
  });
});
