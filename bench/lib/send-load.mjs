// Send throughput: wrk (C, one thread) when installed, else autocannon in its own process. Either way the
// load generator runs outside the benchmark's process and its CPU use is reported beside the result.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { cpuSecondsOf, REPO_ROOT } from './processes.mjs';
import { options } from './options.mjs';
import { payloadOf } from './raw-http.mjs';

let runs = 0;

function wrkVersion() {
  const probe = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  if (probe.error !== undefined) return undefined;
  return /wrk (\S+)/.exec(probe.stdout + probe.stderr)?.[1] ?? 'unknown';
}

/** How wrk is started: under `chrt -b 0` (SCHED_BATCH) unless BENCH_LOADGEN_SCHED=normal or chrt is missing. */
const wrkCommand = (() => {
  if (options.LOADGEN_SCHED === 'normal') return ['wrk'];
  if (options.LOADGEN_SCHED !== 'batch') throw new Error('BENCH_LOADGEN_SCHED must be batch or normal');
  return spawnSync('chrt', ['-b', '0', 'true']).status === 0 ? ['chrt', '-b', '0', 'wrk'] : ['wrk'];
})();

/** Which load generator the send figure uses, and how it is described in the output. */
export function sendLoadGenerator() {
  const version = options.LOADGEN === 'autocannon' ? undefined : wrkVersion();
  if (options.LOADGEN === 'wrk' && version === undefined) throw new Error('BENCH_LOADGEN=wrk but wrk is not installed');
  return version === undefined
    ? { tool: 'autocannon', label: `autocannon 8 in a separate process, ${options.CONNECTIONS} connections` }
    : { tool: 'wrk', label: `wrk ${version}${wrkPolicy}, 1 thread, ${options.CONNECTIONS} connections` };
}

/** How headings name wrk's scheduling policy: ', SCHED_BATCH', or nothing for the default. */
export const wrkPolicy = wrkCommand[0] === 'chrt' ? ', SCHED_BATCH' : '';

/**
 * Runs the send load against `port` for `seconds` and returns requests/s, latency and the load generator's CPU
 * (fraction of one core).
 */
export function runSendLoad(tool, port, seconds, authorization = '') {
  return runLoad({ tool, port, seconds, authorization });
}

/**
 * Runs one load generator against `port` for `seconds`: sends (`bench/lib/send.lua`, or autocannon) or, with
 * `receive`, long-poll receives (`bench/lib/receive.lua`, wrk only) over `streams` streams named
 * `<streamPrefix><n>` (sends with wrk: or the ids in `streamIds`). Returns requests/s, the answers that were not 2xx (for receives: 424, nothing delivered),
 * latency and the load generator's CPU (fraction of one core).
 */
export async function runLoad({
  tool,
  port,
  seconds,
  connections = options.CONNECTIONS,
  streams = options.SEND_STREAMS,
  streamPrefix = 'send-',
  streamIds = [],
  receive = false,
  receiveTimeoutSeconds = 5,
  /** `Authorization` header of every send (a node with auth.mode jwt). */
  authorization = '',
}) {
  if (receive && tool !== 'wrk') throw new Error('the receive load needs wrk (Debian package wrk)');
  const env = {
    ...process.env,
    BENCH_LIB: join(REPO_ROOT, 'bench/lib'),
    BENCH_SEND_STREAMS: String(streams),
    BENCH_STREAM_PREFIX: streamPrefix,
    BENCH_STREAM_IDS: streamIds.join(','),
    BENCH_RECEIVE_TIMEOUT_SECONDS: String(receiveTimeoutSeconds),
    BENCH_PAYLOAD: payloadOf(options.MESSAGE_BYTES),
    BENCH_AUTHORIZATION: authorization,
    // Every run sends new messageUuids, so no send is answered from the dedup window.
    BENCH_RUN_ID: `r${process.pid}x${runs++}`,
  };
  const path = receive ? '/api/v1/streams/receive' : '/api/v1/streams/send';
  const child =
    tool === 'wrk'
      ? spawn(
          wrkCommand[0],
          [
            ...wrkCommand.slice(1),
            '-t1',
            `-c${connections}`,
            `-d${seconds}s`,
            // wrk counts an answer slower than this as a timeout; a long poll may wait its whole timeoutSeconds.
            `--timeout=${receiveTimeoutSeconds + 5}s`,
            '-s',
            join(REPO_ROOT, `bench/lib/${receive ? 'receive' : 'send'}.lua`),
            `http://127.0.0.1:${port}${path}`,
          ],
          { env },
        )
      : spawn(
          process.execPath,
          [join(REPO_ROOT, 'bench/lib/autocannon-send.mjs'), String(port), String(connections), String(seconds)],
          { env },
        );
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  // The process is gone once it exits, so its CPU time is sampled while it runs.
  const started = performance.now();
  let cpu = 0;
  const sampler = setInterval(() => {
    cpu = cpuSecondsOf(child.pid) ?? cpu;
  }, 100);
  const [code] = await once(child, 'exit');
  clearInterval(sampler);
  const line = /BENCH_RESULT (.*)/.exec(output);
  if (code !== 0 || line === null) throw new Error(`${tool} failed (exit ${code}):\n${output}`);
  const result = JSON.parse(line[1]);
  const measured = result.durationUs / 1e6;
  return {
    requests: result.requests,
    requestsPerSecond: result.requests / measured,
    okPerSecond: (result.requests - result.non2xx) / measured,
    non2xx: result.non2xx,
    failed: result.non2xx + result.socketErrors,
    socketErrors: result.socketErrors,
    p50Ms: result.p50Us / 1000,
    p99Ms: result.p99Us / 1000,
    loadgenCpu: cpu / ((performance.now() - started) / 1000),
  };
}
