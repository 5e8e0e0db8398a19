import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { ShutdownState } from './api/index.js';
import { HandOff } from './cluster/index.js';
import { StoredStreams } from './store/index.js';
import { StreamEngine } from './streams/index.js';

export const LOGGER = Symbol('LOGGER');

/** The SIGTERM drain: refuse new work, answer everyone waiting (in memory and stored), then let the HTTP server close. */
@Injectable()
export class GracefulShutdown {
  constructor(
    @Inject(ShutdownState) private readonly state: ShutdownState,
    @Inject(StreamEngine) private readonly engine: StreamEngine,
    @Inject(HandOff) private readonly handOff: HandOff,
    @Inject(StoredStreams) private readonly stored: StoredStreams,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async drain(): Promise<void> {
    this.state.draining = true;
    // In a cluster: hand every in-memory stream to its next owner, then leave the ring (before anything closes).
    await this.handOff.leave();
    const { streams, waiters } = this.engine.stats();
    this.logger.info({ streams, waiters }, 'draining: answering waiting clients');
    this.engine.close();
    // Stored sends in flight still commit; the store itself closes after the HTTP server (StoreModule).
    this.stored.stopWaiting();
  }
}
