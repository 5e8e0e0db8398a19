import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { NodeLifecycle } from '../lifecycle/index.js';
import { Metrics, Readiness } from '../observability/index.js';

@Controller()
export class HealthController {
  constructor(
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(Readiness) private readonly readiness: Readiness,
    @Inject(NodeLifecycle) private readonly lifecycle: NodeLifecycle,
  ) {}

  /** Alive: the process answers HTTP. */
  @Get('health')
  health(): { status: string } {
    return { status: 'ok' };
  }

  /**
   * Ready: the node's lifecycle is `ready` (listening, not draining) and every registered dependency (store,
   * cluster) is usable. 503 lists what is not; `checks.node` is the lifecycle state.
   */
  @Get('ready')
  async ready(@Res() reply: FastifyReply): Promise<void> {
    const evaluated = await this.readiness.evaluate();
    const state = this.lifecycle.state;
    const checks = { node: state === 'ready' ? 'ok' : state, ...evaluated.checks };
    if (evaluated.ready && state === 'ready') {
      await reply.code(200).send({ status: 'ready', checks });
      return;
    }
    const failing = Object.entries(checks)
      .filter(([, result]) => result !== 'ok')
      .map(([name, result]) => `${name}: ${result}`)
      .join('; ');
    await reply.code(503).send({ error: `not ready: ${failing}`, code: 'NOT_READY', checks });
  }

  @Get('metrics')
  async scrape(@Res() reply: FastifyReply): Promise<void> {
    const body = await this.metrics.registry.metrics();
    await reply.code(200).header('content-type', this.metrics.registry.contentType).send(body);
  }
}
