import type { Socket } from 'node:net';

/**
 * The frames of the channel between sibling workers (`SiblingChannel` → `serveSiblings`). Every frame is
 * `u32 length of the rest | u8 kind | u32 call id | kind's fields`; strings are `u16 byte length | UTF-8`,
 * and a body runs to the end of the frame.
 *
 *   REQUEST  method (u8: 0 GET, 1 POST) | hop (u16) | path | grant | signature | body   ('' for none)
 *   ANSWER   status (u16) | content-type | retry-after | body            ('' for a header the answer lacks)
 *   CANCEL   (nothing)   the forwarding worker's client hung up or the call timed out: stop serving it
 *   RESET    (nothing)   the owner broke off its answer (as a reset connection would tell)
 */
export const FrameKind = { Request: 1, Answer: 2, Cancel: 3, Reset: 4 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const LENGTH_BYTES = 4;
/** Kind and call id. */
const HEAD_BYTES = 5;

/**
 * UTF-8 bytes of `text`. Frame strings are short and nearly always ASCII (paths, header values): counted and
 * copied in JS, which is cheaper than Buffer's native calls for a few dozen bytes.
 */
function utf8Bytes(text: string): number {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return Buffer.byteLength(text);
  return text.length;
}

const stringBytes = (text: string): number => 2 + utf8Bytes(text);

function writeString(frame: Buffer, at: number, text: string): number {
  const bytes = utf8Bytes(text);
  frame.writeUInt16BE(bytes, at);
  if (bytes === text.length) for (let i = 0; i < bytes; i++) frame[at + 2 + i] = text.charCodeAt(i);
  else frame.write(text, at + 2);
  return at + 2 + bytes;
}

function startFrame(kind: FrameKind, id: number, bytes: number): Buffer {
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + HEAD_BYTES + bytes);
  frame.writeUInt32BE(HEAD_BYTES + bytes, 0);
  frame.writeUInt8(kind, LENGTH_BYTES);
  frame.writeUInt32BE(id, LENGTH_BYTES + 1);
  return frame;
}

const FIELDS_AT = LENGTH_BYTES + HEAD_BYTES;

/** A forwarded stream request: what the owner needs to serve it as the request it stands for. */
export interface ForwardedHead {
  readonly method: 'GET' | 'POST';
  /** Path and query. */
  readonly path: string;
  readonly hop: number;
  /** The access decision (GRANT_HEADER), '' for none. */
  readonly grant: string;
  /** The cluster's signature (AUTH_HEADER), '' without a cluster secret. */
  readonly signature: string;
}

export function requestFrame(id: number, head: ForwardedHead, body: string | Buffer | undefined): Buffer {
  const { path, grant, signature } = head;
  const frame = startFrame(
    FrameKind.Request,
    id,
    3 + stringBytes(path) + stringBytes(grant) + stringBytes(signature) + bodyBytes(body),
  );
  frame.writeUInt8(head.method === 'GET' ? 0 : 1, FIELDS_AT);
  frame.writeUInt16BE(head.hop, FIELDS_AT + 1);
  const at = writeString(frame, writeString(frame, writeString(frame, FIELDS_AT + 3, path), grant), signature);
  writeBody(frame, at, body);
  return frame;
}

export function answerFrame(
  id: number,
  status: number,
  contentType: string,
  retryAfter: string,
  body: string | Buffer | undefined,
): Buffer {
  const frame = startFrame(
    FrameKind.Answer,
    id,
    2 + stringBytes(contentType) + stringBytes(retryAfter) + bodyBytes(body),
  );
  frame.writeUInt16BE(status, FIELDS_AT);
  const at = writeString(frame, writeString(frame, FIELDS_AT + 2, contentType), retryAfter);
  writeBody(frame, at, body);
  return frame;
}

function bodyBytes(body: string | Buffer | undefined): number {
  return body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
}

function writeBody(frame: Buffer, at: number, body: string | Buffer | undefined): void {
  if (typeof body === 'string') frame.write(body, at);
  else body?.copy(frame, at);
}

/** A frame with no fields (CANCEL, RESET). */
export const signalFrame = (kind: typeof FrameKind.Cancel | typeof FrameKind.Reset, id: number): Buffer =>
  startFrame(kind, id, 0);

/**
 * Writes frames to a socket, all those of one turn of the event loop in one system call: the first corks the
 * socket, and it is uncorked once the loop's I/O callbacks have run (setImmediate).
 */
export class CorkedWriter {
  private corked = false;

  constructor(private readonly socket: Socket) {}

  write(frame: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(uncork, this);
    }
    this.socket.write(frame);
  }

  uncork(): void {
    this.corked = false;
    this.socket.uncork();
  }
}

function uncork(writer: CorkedWriter): void {
  writer.uncork();
}

/** Reads the fields of one frame in order. */
export class FrameFields {
  private at = FIELDS_AT - LENGTH_BYTES;

  constructor(readonly frame: Buffer) {}

  get kind(): FrameKind {
    return this.frame.readUInt8(0) as FrameKind;
  }

  get id(): number {
    return this.frame.readUInt32BE(1);
  }

  u8(): number {
    return this.frame.readUInt8(this.at++);
  }

  u16(): number {
    const value = this.frame.readUInt16BE(this.at);
    this.at += 2;
    return value;
  }

  string(): string {
    const bytes = this.u16();
    if (bytes === 0) return ''; // (most grants, signatures and Retry-Afters: no native call for them)
    const text = this.frame.toString('utf8', this.at, this.at + bytes);
    this.at += bytes;
    return text;
  }

  /** The rest of the frame (a view, not a copy). */
  rest(): Buffer {
    return this.frame.subarray(this.at);
  }
}

/**
 * Splits a byte stream into frames (each handed to `onFrame` without its length, as a view of the chunk it
 * arrived in when it arrived whole); a frame longer than `maxBytes` is a broken peer: `onOversize`.
 */
export class FrameReader {
  /** The start of a frame not yet whole: chunks kept until it is, then joined once. */
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes the frame being gathered needs, length included (0: its length has not arrived yet). */
  private needed = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly onFrame: (frame: Buffer) => void,
    private readonly onOversize: () => void,
  ) {}

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < Math.max(this.needed, LENGTH_BYTES)) return;
      data = Buffer.concat(this.pending, this.pendingBytes);
      this.pending.length = 0;
      this.pendingBytes = 0;
    }
    while (data.length >= LENGTH_BYTES) {
      const length = data.readUInt32BE(0);
      if (length > this.maxBytes || length < HEAD_BYTES) return this.onOversize();
      if (data.length < LENGTH_BYTES + length) {
        this.needed = LENGTH_BYTES + length;
        break;
      }
      this.onFrame(data.subarray(LENGTH_BYTES, LENGTH_BYTES + length));
      data = data.subarray(LENGTH_BYTES + length);
    }
    if (data.length > 0) {
      if (data.length < LENGTH_BYTES) this.needed = 0;
      this.pending.push(data);
      this.pendingBytes = data.length;
    }
  }
}
