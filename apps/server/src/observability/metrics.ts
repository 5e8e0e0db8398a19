import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus metric the node exports. Label children used on hot paths are bound once here, so a
 * send or receive increments a counter without a label lookup.
 */
export class Metrics {
  readonly registry = new Registry();

  private readonly sends = new Counter({
    name: 'ipubsub_sends_total',
    help: 'Send requests answered, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly receives = new Counter({
    name: 'ipubsub_receives_total',
    help: 'Receive requests answered, by outcome (timeout is a 424)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: 'ipubsub_http_request_duration_seconds',
    help: 'HTTP request latency by route and status class (long polls include their wait)',
    labelNames: ['route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly sendOutcome = {
    accepted: this.sends.labels('accepted'),
    duplicate: this.sends.labels('duplicate'),
    timeout: this.sends.labels('timeout'),
    rejected: this.sends.labels('rejected'),
  };

  readonly receiveOutcome = {
    delivered: this.receives.labels('delivered'),
    timeout: this.receives.labels('timeout'),
    rejected: this.receives.labels('rejected'),
  };

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'ipubsub_' });
  }

  /** Adds a gauge whose value is read at scrape time (active streams, waiting receivers, ...). */
  gauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }
}
