// Benchmark settings: environment variables BENCH_*, or flags to `node bench/run.mjs` (`--duration 3` sets
// BENCH_DURATION). Defaults keep every figure to a few seconds and the whole run under about three minutes.

const DEFAULTS = {
  /** Seconds each throughput figure is measured for, after the warm-up. */
  DURATION: 5,
  WARMUP: 1,
  /** Throughput figures alternate between the servers this many rounds and report each one's best. */
  ROUNDS: 1,
  /** Root of another checkout (built) whose server the throughput and latency figures also measure, as "baseline". */
  BASELINE: '',
  /** Also run the send figure on a plain Fastify route with the same schema (bench/fastify-floor.mjs), 1 or 0. */
  FASTIFY: 0,
  /** Keep-alive connections the send-throughput load generator uses: enough that the bare floor saturates a core. */
  CONNECTIONS: 256,
  /** Streams the send-throughput load spreads its messages over. */
  SEND_STREAMS: 1000,
  /** S: streams in the delivery figure, each with one sender and one long-polling receiver. */
  STREAMS: 100,
  /** Size of each message's `message` value, JSON-encoded. */
  MESSAGE_BYTES: 100,
  /** Send→wake samples for the latency figure, one at a time. */
  LATENCY_SAMPLES: 2000,
  /** The pair (bench/pair.mjs): sends and long-poll receives at once over this many streams, */
  PAIR_STREAMS: 10_000,
  /** with this many send connections and this many receive connections (wrk, one thread each), */
  PAIR_SEND_CONNECTIONS: 64,
  PAIR_RECEIVE_CONNECTIONS: 256,
  /** measured this many seconds per round after one warm-up of BENCH_PAIR_WARMUP seconds per server, */
  PAIR_DURATION: 8,
  PAIR_WARMUP: 3,
  /** for this many rounds, the servers' order rotating each round; medians reported. */
  PAIR_ROUNDS: 3,
  IDLE_STREAMS: 1_000_000,
  /** Connections and pipelined requests per connection that fill the idle streams. */
  FILL_CONNECTIONS: 8,
  FILL_PIPELINE: 64,
  WAITERS: 20_000,
  /** The flood (bench/flood.mjs): this many 1 MB sends, over this many connections, to 1 stream and to 100, */
  FLOOD_SENDS: 4000,
  FLOOD_CONNECTIONS: 8,
  /** on the default configuration and with this memory budget (limits.maxBufferedBytes, MiB). */
  FLOOD_BUDGET_MIB: 256,
  /** wrk, autocannon, or auto (wrk when installed). */
  LOADGEN: 'auto',
  /**
   * Linux scheduling policy of wrk: batch (`chrt -b 0`, when chrt is installed) keeps it from preempting the
   * server under test each time an answer wakes it, which sharing the server's cores costs and clients on other
   * machines do not; normal: the default policy.
   */
  LOADGEN_SCHED: 'batch',
  /** Comma-separated figures to run: send,deliver,latency (http, and deliver,latency,forward,sdk for cluster), pair,sends,workers (pair),
   * idle-streams,waiters (memory); empty: all. */
  ONLY: '',
  /** Also fill the floor with the idle streams (1), which doubles the time of that figure; the waiters figure always has it. */
  FLOOR_MEMORY: 0,
};

function read(name) {
  const value = process.env[`BENCH_${name}`];
  if (value === undefined || value === '') return DEFAULTS[name];
  if (typeof DEFAULTS[name] === 'string') return value;
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0)
    throw new Error(`BENCH_${name} must be a non-negative number, got "${value}"`);
  return number;
}

export const options = Object.fromEntries(Object.keys(DEFAULTS).map((name) => [name, read(name)]));

/** Whether a figure was selected with BENCH_ONLY (all are by default). */
export function selected(figure) {
  return (
    options.ONLY === '' ||
    options.ONLY.split(',')
      .map((s) => s.trim())
      .includes(figure)
  );
}
