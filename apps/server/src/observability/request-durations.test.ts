import { Histogram, Registry, type Metric } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestDurations } from './request-durations.js';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The same observations through prom-client's own Histogram: the exposition must be identical. */
function reference(observations: [string, number, number][]): Promise<string> {
  const registry = new Registry();
  const histogram = new Histogram({
    name: 'ipubsub_http_request_duration_seconds',
    help: new RequestDurations().help,
    labelNames: ['route', 'status'] as const,
    buckets: BUCKETS,
    registers: [registry],
  });
  for (const [route, status, seconds] of observations) histogram.labels(route, String(status)).observe(seconds);
  return registry.metrics();
}

function ours(observations: [string, number, number][]): [RequestDurations, Registry] {
  const registry = new Registry();
  const durations = new RequestDurations();
  registry.registerMetric(durations as unknown as Metric);
  const send = durations.route('/api/v1/streams/send');
  for (const [route, status, seconds] of observations) {
    if (route === send.route) send.record(status, seconds);
    else durations.record(route, status, seconds);
  }
  return [durations, registry];
}

describe('RequestDurations', () => {
  const observations: [string, number, number][] = [
    ['/api/v1/streams/send', 200, 0.0002],
    ['/api/v1/streams/send', 200, 0.0005], // on a bucket bound: counted in it, as Prometheus defines `le`
    ['/api/v1/streams/send', 200, 0.003],
    ['/api/v1/streams/send', 400, 0.0001],
    ['/api/v1/streams/receive', 424, 30.0001],
    ['/api/v1/streams/receive', 200, 75], // beyond the last bucket: only +Inf
    ['unmatched', 404, 0.00003],
  ];

  it("exposes exactly what prom-client's Histogram exposes for the same observations", async () => {
    const [, registry] = ours(observations);
    expect(await registry.metrics()).toBe(await reference(observations));
  });

  it('reset empties every series, and recording through a route held before the reset still counts', async () => {
    const [durations, registry] = ours(observations);
    const send = durations.route('/api/v1/streams/send');
    registry.resetMetrics();
    send.record(200, 0.002);
    expect(await registry.metrics()).toBe(await reference([['/api/v1/streams/send', 200, 0.002]]));
  });
});
