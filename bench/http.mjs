// Throughput and latency on loopback, iPubSub against the bare node:http floor, each on a fresh process:
//   send          requests/s with wrk (or autocannon) and the ratio iPubSub/floor
//   deliver       messages/s delivered over S streams, each with one sender and one long-polling receiver
//   latency       send → waiting receiver woken, p50/p99, one message at a time
import { setTimeout as sleep } from 'node:timers/promises';
import { options, selected } from './lib/options.mjs';
import { ServerUnderTest, withServer } from './lib/processes.mjs';
import { payloadOf, RawConnection, receiveRequest, sendRequest } from './lib/raw-http.mjs';
import { count, heading, line, ms, percent, summary, target } from './lib/report.mjs';
import { runSendLoad, sendLoadGenerator } from './lib/send-load.mjs';

const SERVERS = [
  ['iPubSub', () => ServerUnderTest.ipubsub()],
  ['floor', () => ServerUnderTest.floor()],
];
/** Long polls in these figures never wait this long; it only bounds a stuck run. */
const RECEIVE_TIMEOUT_SECONDS = 10;
const payload = payloadOf(options.MESSAGE_BYTES);

/** Runs `measure()` and adds the CPU the server and this process used meanwhile (fraction of one core). */
async function withCpu(server, measure) {
  const serverBefore = server.cpuSeconds();
  const selfBefore = process.cpuUsage();
  const started = performance.now();
  const result = await measure();
  const seconds = (performance.now() - started) / 1000;
  const self = process.cpuUsage(selfBefore);
  return { ...result, serverCpu: (server.cpuSeconds() - serverBefore) / seconds, clientCpu: (self.user + self.system) / 1e6 / seconds };
}

/** Runs the figure on each server in turn and returns the results by server name. */
async function eachServer(measure, describe) {
  const results = {};
  for (const [name, start] of SERVERS) {
    results[name] = await withServer(start, measure);
    line(name, describe(results[name]));
  }
  return results;
}

function ratioLine(results, key) {
  const ratio = results.iPubSub[key] / results.floor[key];
  line('ratio', `iPubSub/floor ${ratio.toFixed(2)}`);
  return ratio;
}

async function sendFigure() {
  const generator = sendLoadGenerator();
  heading(
    'Send throughput',
    `${generator.label}; ${options.DURATION} s after a ${options.WARMUP} s warm-up; ${options.MESSAGE_BYTES}-byte messages spread over ${options.SEND_STREAMS} streams (circular buffers of 100)`,
  );
  const results = await eachServer(
    async (server) => {
      if (options.WARMUP > 0) await runSendLoad(generator.tool, server.port, options.WARMUP);
      return withCpu(server, () => runSendLoad(generator.tool, server.port, options.DURATION));
    },
    (r) =>
      `${count(r.requestsPerSecond).padStart(7)} req/s   latency p50 ${ms(r.p50Ms)}, p99 ${ms(r.p99Ms)}   ` +
      `${r.failed} failed   CPU: server ${percent(r.serverCpu)}, ${generator.tool} ${percent(r.loadgenCpu)}`,
  );
  return target('send throughput ≥ 0.8× floor', ratioLine(results, 'requestsPerSecond') >= 0.8);
}

/** S streams, each with a sender sending back to back and a receiver long-polling back to back. */
async function deliver(server) {
  const streams = options.STREAMS;
  const connections = await Promise.all(Array.from({ length: 2 * streams }, () => RawConnection.open(server.port)));
  let running = true;
  let counting = false;
  let sent = 0;
  let delivered = 0;
  let failed = 0;
  for (let i = 0; i < streams; i++) {
    const [sender, receiver] = [connections[2 * i], connections[2 * i + 1]];
    const streamId = `deliver-${i}`;
    const receiveText = receiveRequest(streamId, RECEIVE_TIMEOUT_SECONDS);
    let n = 0;
    const sendNext = () => {
      if (running) sender.request(sendRequest(`{"streamId":"${streamId}","messageUuid":"m${++n}","message":${payload}}`), onSent);
    };
    const onSent = (status) => {
      if (status !== 200) failed++;
      else if (counting) sent++;
      sendNext();
    };
    const receiveNext = () => {
      if (running) receiver.request(receiveText, onReceived);
    };
    const onReceived = (status) => {
      if (status === 200) {
        if (counting) delivered++;
      } else if (status !== 424) failed++;
      receiveNext();
    };
    receiveNext();
    sendNext();
  }
  await sleep(options.WARMUP * 1000);
  const result = await withCpu(server, async () => {
    counting = true;
    const started = performance.now();
    await sleep(options.DURATION * 1000);
    counting = false;
    const seconds = (performance.now() - started) / 1000;
    return { deliveredPerSecond: delivered / seconds, sentPerSecond: sent / seconds };
  });
  running = false;
  for (const connection of connections) connection.close();
  return { ...result, failed };
}

async function deliverFigure() {
  heading(
    'Delivery',
    `${options.STREAMS} streams, each with one sender and one long-polling receiver on their own keep-alive connections ` +
      `(raw HTTP/1.1 client in the benchmark process); ${options.DURATION} s after a ${options.WARMUP} s warm-up`,
  );
  const results = await eachServer(
    deliver,
    (r) =>
      `${count(r.deliveredPerSecond).padStart(7)} msg/s delivered (${count(r.sentPerSecond)} sends/s)   ${r.failed} failed   ` +
      `CPU: server ${percent(r.serverCpu)}, client ${percent(r.clientCpu)}`,
  );
  ratioLine(results, 'deliveredPerSecond');
}

const WARMUP_SAMPLES = 200;

/** One receiver parked on a stream, then one send; the time from writing the send to reading the receive. */
async function latency(server) {
  const [sender, receiver] = await Promise.all([RawConnection.open(server.port), RawConnection.open(server.port)]);
  const receiveText = receiveRequest('latency', RECEIVE_TIMEOUT_SECONDS);
  const samples = [];
  let failed = 0;
  for (let i = 0; i < options.LATENCY_SAMPLES + WARMUP_SAMPLES; i++) {
    const woken = new Promise((resolve) => receiver.request(receiveText, (status) => resolve([status, performance.now()])));
    await sleep(1); // the receive is parked by now
    const accepted = new Promise((resolve) => {
      const startedAt = performance.now();
      sender.request(sendRequest(`{"streamId":"latency","messageUuid":"m${i}","message":${payload}}`), (status) => resolve([status, startedAt]));
    });
    const [[receiveStatus, wokenAt], [sendStatus, sentAt]] = await Promise.all([woken, accepted]);
    if (receiveStatus !== 200 || sendStatus !== 200) failed++;
    else if (i >= WARMUP_SAMPLES) samples.push(wokenAt - sentAt);
  }
  sender.close();
  receiver.close();
  samples.sort((a, b) => a - b);
  const at = (p) => samples[Math.min(samples.length - 1, Math.ceil(p * samples.length) - 1)];
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: samples[samples.length - 1], failed };
}

async function latencyFigure() {
  heading(
    'Delivery latency',
    `a long-polling receiver parked on a stream, then one send; time from writing the send to reading the receiver's ` +
      `answer; ${options.LATENCY_SAMPLES} samples one at a time after ${WARMUP_SAMPLES} warm-up`,
  );
  const results = await eachServer(latency, (r) => `p50 ${ms(r.p50Ms)}   p99 ${ms(r.p99Ms)}   max ${ms(r.maxMs)}   ${r.failed} failed`);
  return target('waiting receiver woken in < 2 ms p99', results.iPubSub.p99Ms < 2);
}

const verdicts = [];
if (selected('send')) verdicts.push(await sendFigure());
if (selected('deliver')) await deliverFigure();
if (selected('latency')) verdicts.push(await latencyFigure());
summary('Targets (throughput and latency)', verdicts);
