import type { IncomingMessage } from 'node:http';

const NAME = 'ipubsub_http_request_duration_seconds';
const HELP = 'HTTP request latency by route and status, from arrival to the answer (long polls include their wait)';
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const BUCKET_LABELS = BUCKETS.map(String);

const ARRIVED = Symbol('arrived');
interface StampedRequest extends IncomingMessage {
  [ARRIVED]?: number;
}

/**
 * Notes on a request for Nest's routes when it reached the node (`performance.now()` then). The data plane is
 * given the time instead: a property added to every IncomingMessage changes its shape for all of Node's code.
 */
export function stampArrival(req: IncomingMessage, arrivedAt: number): void {
  (req as StampedRequest)[ARRIVED] = arrivedAt;
}

/** Seconds since `stampArrival`'s time for the request. */
export function secondsSinceArrival(req: IncomingMessage): number {
  return secondsSince((req as StampedRequest)[ARRIVED] ?? performance.now());
}

/** Seconds since `arrivedAt` (a `performance.now()` time). */
export function secondsSince(arrivedAt: number): number {
  return (performance.now() - arrivedAt) / 1000;
}

/** The observations of one route and status: a count per bucket (not cumulative), their sum and number. */
class Series {
  readonly counts = new Float64Array(BUCKETS.length);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let bucket = 0;
    while (bucket < BUCKETS.length && seconds > BUCKETS[bucket]) bucket++;
    if (bucket < BUCKETS.length) this.counts[bucket]++;
    this.sum += seconds;
    this.count++;
  }
}

/** The latencies of one route; a route handler holds its own, so recording needs no route lookup. */
export class RouteDurations {
  readonly byStatus = new Map<number, Series>();

  constructor(readonly route: string) {}

  record(status: number, seconds: number): void {
    let series = this.byStatus.get(status);
    if (series === undefined) this.byStatus.set(status, (series = new Series()));
    series.observe(seconds);
  }
}

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/**
 * `ipubsub_http_request_duration_seconds`, a histogram by route and status, as a prom-client collector (it
 * has the `get()` and `reset()` a registry calls). Recording is a few comparisons and additions, because it
 * runs on every request; prom-client's own Histogram hashes its labels on each observation, which cost the
 * stream API several percent of its throughput.
 */
export class RequestDurations {
  readonly name = NAME;
  readonly help = HELP;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly routes = new Map<string, RouteDurations>();

  route(route: string): RouteDurations {
    let durations = this.routes.get(route);
    if (durations === undefined) this.routes.set(route, (durations = new RouteDurations(route)));
    return durations;
  }

  record(route: string, status: number, seconds: number): void {
    this.route(route).record(status, seconds);
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const { route, byStatus } of this.routes.values()) {
      for (const [status, series] of byStatus) {
        const labels = { route, status };
        let cumulative = 0;
        for (let i = 0; i < BUCKETS.length; i++) {
          cumulative += series.counts[i];
          values.push({ labels: { le: BUCKET_LABELS[i], ...labels }, value: cumulative, metricName: `${NAME}_bucket` });
        }
        values.push({ labels: { le: '+Inf', ...labels }, value: series.count, metricName: `${NAME}_bucket` });
        values.push({ labels, value: series.sum, metricName: `${NAME}_sum` });
        values.push({ labels, value: series.count, metricName: `${NAME}_count` });
      }
    }
    return { name: NAME, help: HELP, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const durations of this.routes.values()) durations.byStatus.clear();
  }
}
