// Free loopback ports for the servers the tests and benchmarks start. Plain JavaScript, so that bench/ (run by
// node itself) and the TypeScript tests share it; ports.d.mts gives the tests its types.
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer } from 'node:net';

/** A free TCP port on loopback, chosen by the OS. */
export async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** Whether a TCP and a UDP socket can both bind `port` on loopback right now. */
async function freeForTcpAndUdp(port) {
  const tcp = createServer();
  const udp = createSocket('udp4');
  try {
    tcp.listen(port, '127.0.0.1');
    await once(tcp, 'listening');
    udp.bind(port, '127.0.0.1');
    await once(udp, 'listening');
    return true;
  } catch {
    return false;
  } finally {
    tcp.close();
    try {
      udp.close();
    } catch {
      // never bound
    }
  }
}

/**
 * A port `base` with base … base + count - 1 free on loopback for TCP and UDP, for a node of several workers:
 * each takes a port of its own from its node's configured one.
 */
export async function freePortRange(count) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    let free = true;
    for (let port = base; port < base + count && free; port++) free = await freeForTcpAndUdp(port);
    if (free) return base;
  }
  throw new Error(`no ${count} free ports in a row`);
}
