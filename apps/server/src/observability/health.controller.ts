import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Metrics } from './metrics.js';
import { Readiness } from './readiness.js';

@Controller()
export class HealthController {
  constructor(
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(Readiness) private readonly readiness: Readiness,
  ) {}

  /** Alive: the process answers HTTP. */
  @Get('health')
  health(): { status: string } {
    return { status: 'ok' };
  }

  /** Ready: every registered dependency (store, cluster) is usable. 503 lists what is not. */
  @Get('ready')
  async ready(@Res() reply: FastifyReply): Promise<void> {
    const { ready, checks } = await this.readiness.evaluate();
    if (ready) {
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
