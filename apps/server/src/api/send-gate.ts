import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERROR_STATUS } from '@ipubsub/sdk/wire';
import type { MemoryBudget } from '../streams/index.js';
import { SEND_ROUTE } from './stream-paths.js';

/** When a memory-full node asks to be retried: its budget frees the moment receivers read, so soon. */
export const MEMORY_FULL_RETRY_AFTER_SECONDS = 1;
export const MEMORY_FULL_ERROR = 'node memory budget full (limits.maxBufferedBytes); retry later';
const MEMORY_FULL_BODY = JSON.stringify({ error: MEMORY_FULL_ERROR, code: 'MEMORY_FULL' });

/**
 * Refuses a send the memory budget has no room for before its body is read: under a flood, parsing each
 * refused megabyte would cost CPU and leave garbage that swells the heap far beyond what the budget holds.
 * Only while the budget could not take a body of the largest size is a request looked at. (A send that a
 * waiting receiver would have taken at once is refused too then; its client retries.)
 */
export class SendGate {
  constructor(
    private readonly bodyLimitBytes: number,
    private readonly budget: MemoryBudget,
  ) {}

  /** Answers 503 MEMORY_FULL and returns true if `req` is a send the budget cannot take. */
  refused(req: IncomingMessage, res: ServerResponse): boolean {
    const budget = this.budget;
    if (budget.used + this.bodyLimitBytes <= budget.limitBytes) return false;
    if (req.method !== 'POST' || req.url !== SEND_ROUTE) return false;
    const length = Number(req.headers['content-length']);
    if (!(length > 0) || budget.admits(length)) return false;
    res.writeHead(ERROR_STATUS.MEMORY_FULL, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(MEMORY_FULL_BODY),
      'retry-after': String(MEMORY_FULL_RETRY_AFTER_SECONDS),
    });
    res.end(MEMORY_FULL_BODY);
    return true;
  }
}
