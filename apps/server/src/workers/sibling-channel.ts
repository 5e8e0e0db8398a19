import { rmdirSync, unlinkSync } from 'node:fs';
import type { Server as HttpServer, ServerResponse } from 'node:http';
import { createConnection, type Socket } from 'node:net';
import { dirname } from 'node:path';
import {
  PeerUnreachable,
  type Abandoned,
  type PeerRequest,
  type PeerResponse,
  type SiblingRoutes,
} from '../cluster/index.js';
import type { AppConfig } from '../config/index.js';
import { CorkedWriter, FrameFields, FrameKind, FrameReader, requestFrame, signalFrame } from './sibling-frames.js';
import { serveSiblings } from './sibling-server.js';
import { siblingSocket, siblingSockets, WORKER_SOCKETS_ENV } from './worker-config.js';

/** Answers may carry many messages (a batch receive): only a frame past this is taken for a broken stream. */
const MAX_ANSWER_BYTES = 1024 * 1024 * 1024;
/** How often calls are checked against their deadlines (one timer per sibling rather than one per call). */
const DEADLINE_CHECK_MS = 500;

/**
 * Forwarding to the sibling workers of this machine without HTTP: one Unix-socket connection per sibling
 * carries every call to it as length-prefixed frames (`sibling-frames.ts`), the calls of one event-loop turn
 * written together, answers matched to calls by id. The owner serves each frame as the request it stands for
 * (`serveSiblings`). A call ends as an HTTP forward does: with the owner's answer, or PeerUnreachable when the
 * connection fails (`ECONNREFUSED` if the owner is not there), the deadline passes (`timeout`), the client
 * hangs up or this node gives up (`Abandoned`); the owner is told to stop serving a call given up on.
 */
export class SiblingChannel implements SiblingRoutes {
  private readonly links = new Map<string, SiblingLink>();
  /** Calls sent so far, for the metric. */
  calls = 0;

  /**
   * `sockets`: each sibling's advertised HTTP URL (as the ring names it) → its channel socket; `ownSocket`:
   * where the siblings reach this worker.
   */
  constructor(
    private readonly sockets: ReadonlyMap<string, string>,
    private readonly ownSocket: string,
  ) {}

  /**
   * The channel of worker `index` (1…`workers`; 0 is a node without workers) of the machine configured by
   * `machine`, if the primary gave the workers a socket directory (it does unless its path is too long).
   */
  static forWorker(machine: AppConfig, index: number, workers: number): SiblingChannel | undefined {
    const directory = process.env[WORKER_SOCKETS_ENV];
    if (index === 0 || directory === undefined) return undefined;
    return new SiblingChannel(siblingSockets(machine, index, workers, directory), siblingSocket(directory, index));
  }

  /**
   * Serves on `http` what the siblings forward to this worker (see `serveSiblings`). The socket goes when the
   * worker exits, and with it the directory if the primary is gone (killed: it removes it itself otherwise, and
   * while it runs it forks a new worker into it).
   */
  async listen(http: HttpServer, bodyLimitBytes: number): Promise<void> {
    await serveSiblings(http, this.ownSocket, bodyLimitBytes);
    process.once('exit', () => {
      try {
        unlinkSync(this.ownSocket);
        if (!process.connected) rmdirSync(dirname(this.ownSocket));
      } catch {
        // gone already, or a sibling's socket is still there (its worker removes the directory)
      }
    });
  }

  has(base: string): boolean {
    return this.sockets.has(base);
  }

  request(base: string, request: PeerRequest, signature: string): Promise<PeerResponse> {
    let link = this.links.get(base);
    if (link === undefined || link.broken) {
      link = new SiblingLink(base, this.sockets.get(base)!);
      this.links.set(base, link);
    }
    this.calls++;
    return link.call(request, signature);
  }

  abandonAll(reason: Abandoned): void {
    for (const link of this.links.values()) link.abandonAll(reason);
  }

  /** Siblings that left the ring: their calls are given up on and connections closed (a restart reconnects). */
  retainOnly(bases: ReadonlySet<string>): void {
    for (const [base, link] of this.links) {
      if (bases.has(base)) continue;
      this.links.delete(base);
      link.abandonAll('peer-left');
      link.close();
    }
  }

  close(): void {
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }
}

/** The connection to one sibling and the calls waiting on it. */
class SiblingLink {
  private readonly socket: Socket;
  private readonly writer: CorkedWriter;
  private readonly calls = new Map<number, ChannelCall>();
  private nextId = 1;
  private readonly deadlines: NodeJS.Timeout;
  broken = false;

  constructor(
    readonly base: string,
    socketPath: string,
  ) {
    // Frames written before the connection is up wait in the socket's buffer.
    this.socket = createConnection(socketPath);
    this.writer = new CorkedWriter(this.socket);
    const reader = new FrameReader(MAX_ANSWER_BYTES, this.onFrame, () => this.socket.destroy());
    this.socket.on('data', (chunk: Buffer) => reader.push(chunk));
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.fail(err));
    this.socket.on('close', () => this.fail(undefined));
    this.deadlines = setInterval(() => this.expire(), DEADLINE_CHECK_MS).unref();
  }

  call(request: PeerRequest, signature: string): Promise<PeerResponse> {
    const id = this.nextId;
    this.nextId = id === 0xffffffff ? 1 : id + 1;
    const { method, path, hop, grant = '' } = request;
    const frame = requestFrame(id, { method, path, hop, grant, signature }, request.body);
    return new Promise((resolve, reject) => {
      this.calls.set(id, new ChannelCall(this, id, resolve, reject, request.answering, request.timeoutMs));
      this.writer.write(frame);
    });
  }

  /** A call ended on this side before its answer: the owner stops serving it. */
  cancel(id: number): void {
    if (this.calls.delete(id) && !this.broken) this.writer.write(signalFrame(FrameKind.Cancel, id));
  }

  abandonAll(reason: Abandoned): void {
    for (const call of this.calls.values()) call.abandon(reason);
  }

  close(): void {
    this.socket.destroy();
  }

  private readonly onFrame = (frame: Buffer): void => {
    const fields = new FrameFields(frame);
    const call = this.calls.get(fields.id);
    if (call === undefined) return; // given up on meanwhile
    this.calls.delete(fields.id);
    if (fields.kind === FrameKind.Reset) {
      call.fail('ECONNRESET');
      return;
    }
    if (fields.kind !== FrameKind.Answer) return;
    const status = fields.u16();
    const contentType = fields.string();
    const retryAfter = fields.string();
    call.answer({
      status,
      contentType: contentType === '' ? undefined : contentType,
      retryAfter: retryAfter === '' ? undefined : retryAfter,
      body: fields.rest(),
    });
  };

  /** The connection failed or closed: every call on it fails as a failed HTTP connection's would. */
  private fail(err: NodeJS.ErrnoException | undefined): void {
    if (this.broken) return;
    this.broken = true;
    clearInterval(this.deadlines);
    // No socket file (the sibling is not up yet) is a refused connection to the router.
    const code = err === undefined ? 'ECONNRESET' : err.code === 'ENOENT' ? 'ECONNREFUSED' : (err.code ?? 'error');
    const calls = [...this.calls.values()];
    this.calls.clear();
    for (const call of calls) call.fail(code);
  }

  private expire(): void {
    const now = performance.now();
    for (const call of this.calls.values()) if (call.deadline < now) call.abandon('timeout');
  }
}

/** One call: the promise its caller awaits, settled by the answer, a failure or giving up, whichever is first. */
class ChannelCall {
  readonly deadline: number;
  private settled = false;
  /** Only a call that may wait is worth abandoning when its client hangs up (see PeerRequest.answering). */
  private readonly onClientClose: (() => void) | undefined;

  constructor(
    private readonly link: SiblingLink,
    private readonly id: number,
    private readonly resolve: (response: PeerResponse) => void,
    private readonly reject: (err: PeerUnreachable) => void,
    private readonly answering: ServerResponse | undefined,
    timeoutMs: number,
  ) {
    this.deadline = performance.now() + timeoutMs;
    if (answering !== undefined) {
      this.onClientClose = () => {
        if (!answering.writableFinished) this.abandon('client-hung-up');
      };
      answering.on('close', this.onClientClose);
    }
  }

  answer(response: PeerResponse): void {
    if (this.settle()) this.resolve(response);
  }

  fail(code: string): void {
    if (this.settle()) this.reject(new PeerUnreachable(this.link.base, code, { cause: new Error(code) }));
  }

  /** Gives up on the call: it fails with `reason` and the owner stops serving it. */
  abandon(reason: Abandoned | 'timeout'): void {
    this.link.cancel(this.id);
    this.fail(reason);
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.onClientClose !== undefined) this.answering!.removeListener('close', this.onClientClose);
    return true;
  }
}
