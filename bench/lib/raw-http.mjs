// A minimal HTTP/1.1 keep-alive client for load generation: requests are pre-formatted strings written
// straight to a socket (pipelined when the caller writes several), responses are split by Content-Length and
// handed back in order. It does far less work per request than the servers it measures, so it is not the
// bottleneck; undici or node:http would cost as much as the server side.
import { connect } from 'node:net';
import { once } from 'node:events';

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length: *(\d+)/i;

/** One TCP connection; `request` callbacks run in request order with (status, body). */
export class RawConnection {
  /** @param {import('node:net').Socket} socket */
  constructor(socket) {
    this.socket = socket;
    /** @type {((status: number, body: Buffer) => void)[]} */
    this.pending = [];
    this.head = 0;
    /** @type {Buffer | null} */
    this.rest = null;
    this.closed = false;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
  }

  /** Opens a connection to 127.0.0.1:port, from `localAddress` when given (to spread over source addresses). */
  static async open(port, localAddress) {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    await once(socket, 'connect');
    return new RawConnection(socket);
  }

  get inFlight() {
    return this.pending.length - this.head;
  }

  /** Writes one pre-formatted request; `onResponse(status, body)` runs when its answer arrives. */
  request(text, onResponse) {
    this.pending.push(onResponse);
    this.socket.write(text);
  }

  close() {
    this.socket.destroy();
  }

  onData(chunk) {
    let buf = this.rest === null ? chunk : Buffer.concat([this.rest, chunk]);
    let offset = 0;
    for (;;) {
      const headEnd = buf.indexOf(HEADER_END, offset);
      if (headEnd < 0) break;
      const status = (buf[offset + 9] - 48) * 100 + (buf[offset + 10] - 48) * 10 + (buf[offset + 11] - 48);
      const match = CONTENT_LENGTH.exec(buf.latin1Slice(offset, headEnd));
      if (match === null) throw new Error('response without content-length');
      const bodyStart = headEnd + HEADER_END.length;
      const end = bodyStart + Number(match[1]);
      if (end > buf.length) break;
      const onResponse = this.pending[this.head++];
      if (this.head === this.pending.length) {
        this.pending.length = 0;
        this.head = 0;
      }
      onResponse(status, buf.subarray(bodyStart, end));
      offset = end;
    }
    this.rest = offset < buf.length ? buf.subarray(offset) : null;
  }
}

/** `POST /api/v1/streams/send` with the given JSON text as body. */
export function sendRequest(json) {
  return (
    'POST /api/v1/streams/send HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n' +
    `content-length: ${Buffer.byteLength(json)}\r\n\r\n${json}`
  );
}

/** `GET /api/v1/streams/receive` for one stream. */
export function receiveRequest(streamId, timeoutSeconds) {
  return `GET /api/v1/streams/receive?streamId=${encodeURIComponent(streamId)}&timeoutSeconds=${timeoutSeconds} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`;
}

/** A JSON string value of exactly `bytes` bytes including its quotes: the benchmark's message payload. */
export function payloadOf(bytes) {
  return JSON.stringify('x'.repeat(Math.max(0, bytes - 2)));
}
