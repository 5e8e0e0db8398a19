// Cluster figures, all nodes on this one machine (loopback; they share its cores with the load generator):
//   forwarding latency   send → waiting receiver woken, p50/p99: everything on one node, against sender, owner
//                        and receiver on three different nodes (both requests forwarded)
//   delivery             messages/s delivered over S streams for clusters of 1, 2 and 3 nodes, each stream's
//                        sender and receiver entering through different nodes
//   forwarding cost      CPU per send of each node of two, sends going straight to their owner or through the other
//   SDK routing          sends/s of SDK clients on a three-node cluster, routing 'direct' (to each stream's owner)
//                        against 'any' (everything through node-1), rounds alternated; requests forwarded, CPU per send
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { measureDelivery, measureLatency } from './lib/delivery.mjs';
import { options, selected } from './lib/options.mjs';
import { ServerUnderTest } from './lib/processes.mjs';
import { payloadOf, RawConnection, sendRequest } from './lib/raw-http.mjs';
import { countedWindow, requestLoop } from './lib/request-loops.mjs';
import { count, heading, line, ms, percent } from './lib/report.mjs';
import { IPubSub } from '../sdk/dist/index.js';

const payload = payloadOf(options.MESSAGE_BYTES);
const WARMUP_SAMPLES = 200;
/** Connections (each on its own stream) of the forwarding-cost figure: enough to keep both nodes busy. */
const FORWARD_CONNECTIONS = 32;

async function freeUdpPort() {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address();
  socket.close();
  return port;
}

/** Starts `size` nodes (a single node has no seeds, as deployed alone) and waits until they agree on the ring. */
async function startCluster(size) {
  if (size === 1) return [await ServerUnderTest.ipubsub()];
  const gossipPorts = await Promise.all(Array.from({ length: size }, freeUdpPort));
  const seeds = gossipPorts.map((port) => `127.0.0.1:${port}`).join(',');
  const nodes = await Promise.all(
    gossipPorts.map((port, i) =>
      ServerUnderTest.ipubsub({
        IPUBSUB_NODE_NAME: `node-${i + 1}`,
        IPUBSUB_CLUSTER_SEEDS: seeds,
        IPUBSUB_CLUSTER_GOSSIP_PORT: String(port),
        // Measures forwarding of in-memory streams; the embedded store is only opened.
        IPUBSUB_STORE_ALLOWNODELOCALINCLUSTER: 'true',
      }),
    ),
  );
  const deadline = Date.now() + 20_000;
  for (;;) {
    const rings = await Promise.all(
      nodes.map(async (node) => (await (await fetch(`${node.url}/api/v1/cluster`)).json()).ring.length),
    );
    if (rings.every((length) => length === size)) return nodes;
    if (Date.now() > deadline) throw new Error(`cluster of ${size} did not form: ring sizes ${rings}`);
    await sleep(50);
  }
}

async function withCluster(size, body) {
  const nodes = await startCluster(size);
  try {
    return await body(nodes);
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
  }
}

async function ownerOf(node, streamId) {
  return (await (await fetch(`${node.url}/api/v1/cluster/owner?streamId=${streamId}`)).json()).owner;
}

async function latencyFigure() {
  heading(
    'Cluster: forwarding latency',
    `a receiver parked on a stream, then one send; time from writing the send to reading the receiver's answer; ` +
      `${options.LATENCY_SAMPLES} samples one at a time after ${WARMUP_SAMPLES} warm-up`,
  );
  const describe = (r) => `p50 ${ms(r.p50Ms)}   p99 ${ms(r.p99Ms)}   max ${ms(r.maxMs)}   ${r.failed} failed`;
  const alone = await withCluster(1, ([node]) =>
    measureLatency({
      streamId: 'latency',
      senderPort: node.port,
      receiverPort: node.port,
      payload,
      samples: options.LATENCY_SAMPLES,
      warmup: WARMUP_SAMPLES,
    }),
  );
  line('1 node', describe(alone));
  const spread = await withCluster(3, async ([first, , third]) => {
    let streamId;
    for (let i = 0; (await ownerOf(first, (streamId = `latency-${i}`))) !== 'node-2'; i++);
    return measureLatency({
      streamId,
      senderPort: first.port,
      receiverPort: third.port,
      payload,
      samples: options.LATENCY_SAMPLES,
      warmup: WARMUP_SAMPLES,
    });
  });
  line('3 nodes', `${describe(spread)}   (send → node-1, owner node-2, receive → node-3)`);
  line('overhead', `p50 +${ms(spread.p50Ms - alone.p50Ms)}, p99 +${ms(spread.p99Ms - alone.p99Ms)}`);
}

async function deliveryFigure() {
  heading(
    'Cluster: delivery',
    `${options.STREAMS} streams, each with one sender and one long-polling receiver; stream i sends through node i mod n ` +
      `and receives through node (i+1) mod n; ${options.DURATION} s after a ${options.WARMUP} s warm-up; all nodes and the client share this machine`,
  );
  for (const size of [1, 2, 3]) {
    const result = await withCluster(size, async (nodes) => {
      const cpuBefore = nodes.map((node) => node.cpuSeconds());
      const started = performance.now();
      const delivery = await measureDelivery({
        streams: options.STREAMS,
        senderPort: (i) => nodes[i % size].port,
        receiverPort: (i) => nodes[(i + 1) % size].port,
        payload,
        warmupSeconds: options.WARMUP,
        seconds: options.DURATION,
      });
      const seconds = (performance.now() - started) / 1000;
      const cpu = nodes.reduce((sum, node, i) => sum + (node.cpuSeconds() - cpuBefore[i]), 0) / seconds;
      return { ...delivery, cpu };
    });
    line(
      `${size} node${size === 1 ? '' : 's'}`,
      `${count(result.deliveredPerSecond).padStart(7)} msg/s delivered (${count(result.sentPerSecond)} sends/s)   ${result.failed} failed   ` +
        `CPU of all nodes ${percent(result.cpu)} of one core`,
    );
  }
}

/**
 * Sends back to back on one connection per stream through `entry`; the rate in the counted window, and each
 * node's CPU per send over the whole run (warm-up included, as are its sends).
 */
async function sendsThrough(entry, streams, nodes) {
  const connections = await Promise.all(streams.map(() => RawConnection.open(entry.port)));
  const cpuBefore = nodes.map((node) => node.cpuSeconds());
  let answered = 0;
  let counted = 0;
  let failed = 0;
  const elapsed = await countedWindow({ warmupSeconds: options.WARMUP, seconds: options.DURATION }, (window) => {
    connections.forEach((connection, i) => {
      let n = 0;
      const body = () => `{"streamId":"${streams[i]}","messageUuid":"f${++n}","message":${payload}}`;
      requestLoop(
        connection,
        window,
        () => sendRequest(body()),
        (status) => {
          if (status !== 200) failed++;
          answered++;
          if (window.counting) counted++;
        },
      );
    });
  });
  const cpuMicros = nodes.map((node, i) => ((node.cpuSeconds() - cpuBefore[i]) / answered) * 1e6);
  for (const connection of connections) connection.close();
  return { perSecond: counted / elapsed, cpuMicros, failed };
}

async function forwardingCostFigure() {
  heading(
    'Cluster: forwarding cost',
    `two nodes; ${FORWARD_CONNECTIONS} connections sending back to back, each to its own stream owned by node-2, straight to it or ` +
      `through node-1; ${options.DURATION} s after a ${options.WARMUP} s warm-up; CPU time of each node per send`,
  );
  await withCluster(2, async (nodes) => {
    const streams = [];
    for (let i = 0; streams.length < FORWARD_CONNECTIONS; i++)
      if ((await ownerOf(nodes[0], `forward-${i}`)) === 'node-2') streams.push(`forward-${i}`);
    for (const [label, entry] of [
      ['to the owner', nodes[1]],
      ['forwarded', nodes[0]],
    ]) {
      const result = await sendsThrough(entry, streams, nodes);
      const [first, second] = result.cpuMicros.map((micros) => `${micros.toFixed(0)} µs`);
      line(
        label,
        `${count(result.perSecond).padStart(7)} sends/s   ${result.failed} failed   CPU per send: node-1 ${first}, node-2 (owner) ${second}`,
      );
    }
  });
}

/** Requests all nodes forwarded so far. */
async function forwardedTotal(nodes) {
  const texts = await Promise.all(nodes.map(async (node) => (await fetch(`${node.url}/metrics`)).text()));
  return texts.reduce((sum, text) => {
    const match = /^ipubsub_cluster_forwarded_requests_total\{outcome="ok"\} (\d+)/m.exec(text);
    return sum + (match === null ? 0 : Number(match[1]));
  }, 0);
}

/** SDK sends through one client in `routing` mode: one loop per stream, back to back, for the counted window. */
async function sdkSends(routing, nodes, streams) {
  const client = new IPubSub({ baseUrl: nodes[0].url, routing });
  const message = JSON.parse(payload);
  // Until the client holds the ring (direct): its first answers carry the ring version, then it loads the ring.
  for (let i = 0; i < 3; i++) await Promise.all(streams.map((stream) => client.send(stream, message)));
  const forwardedBefore = await forwardedTotal(nodes);
  const cpuBefore = nodes.map((node) => node.cpuSeconds());
  let answered = 0;
  let counted = 0;
  const elapsed = await countedWindow({ warmupSeconds: options.WARMUP, seconds: options.DURATION }, (window) => {
    for (const stream of streams)
      void (async () => {
        while (window.running) {
          await client.send(stream, message);
          answered++;
          if (window.counting) counted++;
        }
      })();
  });
  await sleep(200); // the last sends of the loops settle
  const cpuMicros = (nodes.reduce((sum, node, i) => sum + (node.cpuSeconds() - cpuBefore[i]), 0) / answered) * 1e6;
  const forwarded = (await forwardedTotal(nodes)) - forwardedBefore;
  await client.close();
  return { perSecond: counted / elapsed, forwarded: forwarded / answered, cpuMicros };
}

async function sdkRoutingFigure() {
  const rounds = options.ROUNDS;
  heading(
    'Cluster: SDK routing',
    `three nodes; one SDK client given node-1, ${FORWARD_CONNECTIONS} send loops each on its own stream; routing 'direct' ` +
      `(each request to its stream's owner) against 'any' (all to node-1, which forwards two in three); ${options.DURATION} s ` +
      `after ${options.WARMUP} s warm-up, ${rounds} rounds alternated; CPU: all three nodes per send`,
  );
  await withCluster(3, async (nodes) => {
    const streams = Array.from({ length: FORWARD_CONNECTIONS }, (_, i) => `sdk-routing-${i}`);
    const results = { direct: [], any: [] };
    for (let round = 0; round < rounds; round++) {
      for (const routing of round % 2 === 0 ? ['direct', 'any'] : ['any', 'direct']) {
        const result = await sdkSends(routing, nodes, streams);
        results[routing].push(result);
        line(
          routing,
          `round ${round + 1}: ${count(result.perSecond).padStart(7)} sends/s   forwarded ${percent(result.forwarded)}   ` +
            `CPU per send ${result.cpuMicros.toFixed(0)} µs`,
        );
      }
    }
    const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const ratios = (field) => results.direct.map((direct, i) => (direct[field] / results.any[i][field]).toFixed(2));
    line(
      'median',
      `direct ${count(median(results.direct.map((r) => r.perSecond)))} sends/s, any ${count(median(results.any.map((r) => r.perSecond)))} sends/s; ` +
        `direct/any per round: sends/s ${ratios('perSecond').join(', ')}, CPU per send ${ratios('cpuMicros').join(', ')}`,
    );
  });
}

if (selected('latency')) await latencyFigure();
if (selected('deliver')) await deliveryFigure();
if (selected('forward')) await forwardingCostFigure();
if (selected('sdk')) await sdkRoutingFigure();
