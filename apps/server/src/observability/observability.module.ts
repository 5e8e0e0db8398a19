import { Global, Inject, Module, type OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { NODE_STATES, NodeLifecycle } from '../lifecycle/index.js';
import { Metrics } from './metrics.js';
import { Readiness } from './readiness.js';

/** Readiness checks and the node-state gauge (api/ serves `/health`, `/ready`, `/metrics`); `Metrics` itself is made before Nest (main.ts), as the HTTP server uses it. */
@Global()
@Module({
  providers: [Readiness],
  exports: [Readiness],
})
export class ObservabilityModule implements OnModuleInit {
  constructor(
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(NodeLifecycle) private readonly lifecycle: NodeLifecycle,
  ) {}

  onModuleInit(): void {
    const lifecycle = this.lifecycle;
    new Gauge({
      name: 'ipubsub_node_state',
      help: "The node's lifecycle state: 1 for the current one (starting, ready, draining, stopped), 0 for the others",
      labelNames: ['state'] as const,
      registers: [this.metrics.registry],
      collect() {
        for (const state of NODE_STATES) this.labels(state).set(state === lifecycle.state ? 1 : 0);
      },
    });
  }
}
