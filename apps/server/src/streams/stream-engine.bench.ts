import { bench, describe } from 'vitest';
import { StreamEngine } from './stream-engine.js';

// `pnpm exec vitest bench --project server --run apps/server/src/streams`: the engine's cost per send to busy
// streams, as the send load of bench/http.mjs drives it (1,000 streams, circular buffers of 100, a new
// messageUuid each time), with the default dedup window and without one.

const STREAMS = 1_000;
const SEND = { capacity: 100, blockingTimeoutMs: 0 } as const;

function sender(dedupWindow: number): () => void {
  const engine = new StreamEngine({
    maxStreams: 1e7,
    maxWaitersPerStream: 1e4,
    maxWaitersPerNode: 1e6,
    maxStreamBytes: 64 * 1024 * 1024,
    dedupWindow,
    idleEvictionMs: 60_000,
  });
  const payload = 'x'.repeat(98);
  let n = 0;
  return () => {
    n++;
    // Parsed, as the server gets them: fresh strings whose hashes nobody has computed yet.
    const body = JSON.parse(`{"streamId":"send-${n % STREAMS}","messageUuid":"r1t0-${n}"}`) as {
      streamId: string;
      messageUuid: string;
    };
    void engine.send(
      body.streamId,
      { messageUuid: body.messageUuid, message: payload, timestamp: n, bytes: 160 },
      SEND,
    );
  };
}

describe('send to 1,000 busy streams', () => {
  bench('dedup window 100', sender(100), { time: 2_000 });
  bench('no dedup window', sender(0), { time: 2_000 });
});
