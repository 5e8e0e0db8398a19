import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { NodeWire } from '@ipubsub/sdk/wire';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { ClusterAuth } from '../auth.js';
import type { SwimMessage } from './types.js';

/** First byte of a datagram: the format, so that a node without the secret never mistakes a signed one. */
const UNSIGNED = 1;
const SIGNED = 2;
/** Unsigned notice that a datagram was refused (another secret, or none), so a misconfigured node says why. */
const REJECTED = 3;
const REJECT_NOTICE_INTERVAL_MS = 1_000;
/** Larger datagrams are not sent: a full-state sync of some hundreds of members still fits. */
const MAX_DATAGRAM_BYTES = 65_000;
/** Every datagram is checked whole: a malformed one (another version, or anyone when there is no secret) is refused. */
const GOSSIP_MESSAGE = TypeCompiler.Compile(NodeWire.GossipMessageSchema);

export interface TransportHandlers {
  message(from: string, message: SwimMessage): void;
  /** A datagram that failed authentication or parsing; for a rate-limited log line. */
  rejected(from: string, reason: string): void;
  /** A node refused our datagrams (its notice is unauthenticated: it can only delay a join). */
  rejectedBy(from: string, reason: string): void;
}

/**
 * Gossip over UDP: one JSON message per datagram, `[format][16-byte HMAC, when signed][JSON]`. A node with a
 * secret accepts only datagrams signed with it; a node without one accepts only unsigned datagrams.
 */
export class UdpTransport {
  private socket: Socket | undefined;
  private readonly addresses = new Map<string, { host: string; port: number }>();
  private readonly noticesSent = new Map<string, number>();

  constructor(
    private readonly auth: ClusterAuth,
    private readonly handlers: TransportHandlers,
  ) {}

  async bind(host: string, port: number): Promise<number> {
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    socket.on('message', (datagram, remote) => this.receive(datagram, formatAddress(remote.address, remote.port)));
    // ICMP "port unreachable" from a node that is down surfaces here; failure detection handles it.
    socket.on('error', () => undefined);
    // Exclusive: a worker of node.workers binds its own gossip port rather than sharing one through the primary.
    socket.bind({ port, address: host, exclusive: true });
    await Promise.race([
      once(socket, 'listening'),
      once(socket, 'error').then(([err]) => {
        throw new Error(`cannot bind gossip socket ${host}:${port}: ${(err as Error).message}`);
      }),
    ]);
    this.socket = socket;
    return socket.address().port;
  }

  send(address: string, message: SwimMessage): void {
    const socket = this.socket;
    if (socket === undefined) return;
    const target = this.resolve(address);
    if (target === undefined) return;
    const datagram = this.encode(message);
    if (datagram.length > MAX_DATAGRAM_BYTES) {
      this.handlers.rejected(
        address,
        `outgoing ${message.type} of ${datagram.length} bytes exceeds one datagram; not sent`,
      );
      return;
    }
    socket.send(datagram, target.port, target.host);
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  encode(message: SwimMessage): Buffer {
    const payload = Buffer.from(JSON.stringify(message));
    if (!this.auth.enabled) return Buffer.concat([Buffer.of(UNSIGNED), payload]);
    return Buffer.concat([Buffer.of(SIGNED), this.auth.datagramMac(payload), payload]);
  }

  /** The message in a datagram, or why it is refused. */
  decode(datagram: Buffer): SwimMessage | string {
    const format = datagram[0];
    let payload: Buffer;
    if (this.auth.enabled) {
      if (format !== SIGNED) return 'unsigned gossip, but this node requires cluster.secret';
      const macEnd = 1 + this.auth.datagramMacBytes;
      payload = datagram.subarray(macEnd);
      if (!this.auth.verifyDatagram(payload, datagram.subarray(1, macEnd)))
        return 'gossip signed with another cluster.secret';
    } else {
      if (format !== UNSIGNED) return 'signed gossip, but this node has no cluster.secret';
      payload = datagram.subarray(1);
    }
    try {
      const message: unknown = JSON.parse(payload.toString());
      return GOSSIP_MESSAGE.Check(message) ? message : 'not a gossip message';
    } catch {
      return 'malformed gossip datagram';
    }
  }

  private receive(datagram: Buffer, from: string): void {
    if (datagram[0] === REJECTED) {
      this.handlers.rejectedBy(from, datagram.subarray(1, 300).toString());
      return;
    }
    const decoded = this.decode(datagram);
    if (typeof decoded !== 'string') {
      this.handlers.message(from, decoded);
      return;
    }
    this.handlers.rejected(from, decoded);
    this.noticeRejection(from, decoded);
  }

  private noticeRejection(to: string, reason: string): void {
    const now = Date.now();
    if (now - (this.noticesSent.get(to) ?? 0) < REJECT_NOTICE_INTERVAL_MS) return;
    if (this.noticesSent.size > 1000) this.noticesSent.clear();
    this.noticesSent.set(to, now);
    const target = this.resolve(to);
    if (target !== undefined)
      this.socket?.send(Buffer.concat([Buffer.of(REJECTED), Buffer.from(reason)]), target.port, target.host);
  }

  private resolve(address: string): { host: string; port: number } | undefined {
    let target = this.addresses.get(address);
    if (target === undefined) {
      const colon = address.lastIndexOf(':');
      const port = Number(address.slice(colon + 1));
      if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
      target = { host: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port };
      this.addresses.set(address, target);
    }
    return target;
  }
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
