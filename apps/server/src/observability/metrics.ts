import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { RequestDurations } from './request-durations.js';

/** Counts one outcome in a plain number; prom-client's counter gets the sum when scraped. */
class OutcomeCount {
  pending = 0;

  inc(): void {
    this.pending++;
  }
}

/**
 * A counter by outcome whose hot-path increments cost one addition: prom-client's own `inc()` hashes the
 * labels each time, and a send or receive counts one outcome.
 */
function outcomeCounter<K extends string>(
  registry: Registry,
  name: string,
  help: string,
  outcomes: readonly K[],
  labelName = 'outcome',
): Record<K, OutcomeCount> {
  const counts = Object.fromEntries(outcomes.map((outcome) => [outcome, new OutcomeCount()])) as Record<
    K,
    OutcomeCount
  >;
  const counter = new Counter({
    name,
    help,
    labelNames: [labelName],
    registers: [registry],
    collect() {
      for (const outcome of outcomes) {
        if (counts[outcome].pending === 0) continue;
        this.labels(outcome).inc(counts[outcome].pending);
        counts[outcome].pending = 0;
      }
    },
  });
  for (const outcome of outcomes) counter.labels(outcome).inc(0); // exported as 0 from the start
  return counts;
}

/** Every Prometheus metric the node exports. */
export class Metrics {
  readonly registry = new Registry();

  readonly sendOutcome = outcomeCounter(this.registry, 'ipubsub_sends_total', 'Send requests answered, by outcome', [
    'accepted',
    'duplicate',
    'timeout',
    'rejected',
  ] as const);

  readonly receiveOutcome = outcomeCounter(
    this.registry,
    'ipubsub_receives_total',
    'Receive requests answered, by outcome (timeout is a 424)',
    ['delivered', 'timeout', 'rejected'] as const,
  );

  readonly authOutcome = outcomeCounter(
    this.registry,
    'ipubsub_auth_checks_total',
    'Bearer tokens checked (auth.mode: jwt), by outcome: cached (a known token), verified (by its signature), ' +
      'unauthorized (401), forbidden (403)',
    ['cached', 'verified', 'unauthorized', 'forbidden'] as const,
  );

  readonly refusals = outcomeCounter(
    this.registry,
    'ipubsub_refusals_total',
    'Sends refused to protect the node, by reason: memory_full (limits.maxBufferedBytes, 503), too_large ' +
      '(one message over limits.maxStreamBytes, 413)',
    ['memory_full', 'too_large'] as const,
    'reason',
  );

  readonly requestDurations = new RequestDurations();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'ipubsub_' });
    // A collector with the get() and reset() a registry calls, not one of prom-client's classes.
    this.registry.registerMetric(this.requestDurations as unknown as Metric);
  }

  /** Adds a counter whose total is read at scrape time from the code that counts (no call per increment here). */
  counter(name: string, help: string, read: () => number): void {
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
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
