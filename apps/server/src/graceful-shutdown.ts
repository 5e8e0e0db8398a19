import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { HandOff } from './cluster/index.js';
import { LOGGER } from './observability/index.js';
import { StoredStreams } from './store/index.js';
import { StreamEngine } from './streams/index.js';

/** The SIGTERM drain: refuse new work, answer everyone waiting (in memory and stored), then let the HTTP server close. */
@Injectable()
export class GracefulShutdown {
  constructor(
    @Inject(StreamEngine) private readonly engine: StreamEngine,
    @Inject(HandOff) private readonly handOff: HandOff,
    @Inject(StoredStreams) private readonly stored: StoredStreams,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Drains the node, which its lifecycle says is `draining` now (new work is refused from then on). */
  async drain(): Promise<void> {
    // In a cluster: hand every in-memory stream to its next owner, then leave the ring (before anything closes).
    await this.handOff.leave();
    const { streams, waiters } = this.engine.stats();
    this.logger.info({ streams, waiters }, 'draining: answering waiting clients');
    this.engine.close();
    // Stored sends in flight still commit; the store itself closes after the HTTP server (StoreModule).
    this.stored.stopWaiting();
  }
}
