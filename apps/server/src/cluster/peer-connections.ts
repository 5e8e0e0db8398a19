/** PeerClient's connections to one peer and the undici handlers of its calls and relayed tails. */
import type { ServerResponse } from 'node:http';
import type { Client, Dispatcher } from 'undici';
import { PeerUnreachable, type Abandoned, type PeerResponse, type PeerTrust } from './peer-types.js';

/** Headers of a relayed live tail's answer that the reader needs. */
const RELAYED_HEADERS = ['content-type', 'cache-control', 'x-accel-buffering', 'www-authenticate', 'retry-after'];
const EMPTY = Buffer.alloc(0);

/** One peer's connections (an undici Client is one connection) and the calls in flight to it. */
export class PeerConnections {
  /** Connections with no call, the most recently used last (its socket is the likeliest to be still open). */
  readonly idle: Client[] = [];
  readonly calls = new Set<{ abandon(reason: Abandoned): void }>();
  private readonly all: Client[] = [];

  constructor(
    readonly base: string,
    private readonly Client: typeof import('undici').Client,
    private readonly trust: PeerTrust | undefined,
  ) {}

  open(): Client {
    // An https:// peer's certificate is verified (undici's default) against `trust`, else the system's CAs.
    const connect = { timeout: 2_000, ...this.trust };
    const client = new this.Client(this.base, { pipelining: 1, keepAliveTimeout: 60_000, connect });
    this.all.push(client);
    return client;
  }

  abandonCalls(reason: Abandoned): void {
    for (const call of this.calls) call.abandon(reason);
  }

  async destroy(): Promise<void> {
    this.idle.length = 0;
    await Promise.all(this.all.map((client) => client.destroy()));
  }

  /** A connection that served one relayed tail: closed, not kept idle. */
  forget(client: Client): void {
    this.all.splice(this.all.indexOf(client), 1);
    void client.destroy();
  }
}

/** undici's handler for a relayed live tail: the owner's answer is written through as it arrives. */
export class TailRelay implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private started = false;
  private done = false;

  constructor(
    private readonly peer: PeerConnections,
    private readonly client: Client,
    private readonly answer: ServerResponse,
    /** Called when the owner's answer starts, before it is written to `answer`. */
    private readonly begin: () => void,
    private readonly resolve: () => void,
    private readonly reject: (err: PeerUnreachable) => void,
  ) {
    peer.calls.add(this);
    answer.on('close', this.onReaderGone);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.done) controller.abort(new Error('client-hung-up'));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    const relayed: Record<string, string | string[]> = {};
    for (const name of RELAYED_HEADERS) if (headers[name] !== undefined) relayed[name] = headers[name];
    this.started = true;
    this.begin();
    this.answer.writeHead(statusCode, relayed);
    this.answer.flushHeaders();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // Read the owner's stream only as fast as the reader takes it.
    if (!this.answer.write(chunk)) {
      controller.pause();
      this.answer.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.finish();
    this.answer.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (!this.started && !this.answer.destroyed) {
      this.finish(new PeerUnreachable(this.peer.base, (err as { code?: string }).code ?? 'error', { cause: err }));
      return;
    }
    this.finish();
    // The tail broke off midway: the reader reconnects from its last id.
    this.answer.destroy();
  }

  abandon(reason: Abandoned): void {
    this.controller?.abort(new Error(reason));
    if (!this.started) this.finish(new PeerUnreachable(this.peer.base, reason, { cause: new Error(reason) }));
  }

  private readonly onReaderGone = (): void => {
    if (this.done) return;
    this.controller?.abort(new Error('client-hung-up'));
    this.finish();
  };

  private finish(err?: PeerUnreachable): void {
    if (this.done) return;
    this.done = true;
    this.peer.calls.delete(this);
    this.peer.forget(this.client);
    this.answer.removeListener('close', this.onReaderGone);
    if (err === undefined) this.resolve();
    else this.reject(err);
  }
}

/**
 * One call: undici's handler for its answer, and the promise the caller awaits. The promise settles at the
 * answer, the failure or the abandon, whichever comes first; the connection goes back to the idle list only
 * once undici has finished with the call.
 */
export class PeerCall implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private contentType: string | undefined;
  private retryAfter: string | undefined;
  private body: Buffer | Buffer[] | undefined;
  private abandoned: Abandoned | undefined;
  private settled = false;

  constructor(
    private readonly peer: PeerConnections,
    private readonly client: Client,
    private readonly resolve: (response: PeerResponse) => void,
    private readonly reject: (err: PeerUnreachable) => void,
    private readonly answering: ServerResponse | undefined,
  ) {
    peer.calls.add(this);
    answering?.on('close', this.onClientClose);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Abandoned while it waited for its connection.
    if (this.abandoned !== undefined) controller.abort(new Error(this.abandoned));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.status = statusCode;
    const contentType = headers['content-type'];
    this.contentType = typeof contentType === 'string' ? contentType : undefined;
    const retryAfter = headers['retry-after'];
    this.retryAfter = typeof retryAfter === 'string' ? retryAfter : undefined;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.body === undefined) this.body = chunk;
    else if (Array.isArray(this.body)) this.body.push(chunk);
    else this.body = [this.body, chunk];
  }

  onResponseEnd(): void {
    this.release();
    const body = this.body === undefined ? EMPTY : Array.isArray(this.body) ? Buffer.concat(this.body) : this.body;
    this.settle(undefined, { status: this.status, contentType: this.contentType, retryAfter: this.retryAfter, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.release();
    this.settle(err);
  }

  /** Gives up on the call: it ends with PeerUnreachable(`reason`) now, and undici drops it (its connection too, if it was sent). */
  abandon(reason: Abandoned): void {
    if (this.settled) return;
    this.abandoned = reason;
    this.settle(new Error(reason));
    this.controller?.abort(new Error(reason));
  }

  private readonly onClientClose = (): void => {
    if (!this.answering!.writableFinished) this.abandon('client-hung-up');
  };

  private release(): void {
    this.peer.calls.delete(this);
    this.peer.idle.push(this.client);
  }

  private settle(err: Error | undefined, response?: PeerResponse): void {
    if (this.settled) return;
    this.settled = true;
    this.answering?.removeListener('close', this.onClientClose);
    if (err === undefined) this.resolve(response!);
    else
      this.reject(
        new PeerUnreachable(this.peer.base, this.abandoned ?? (err as { code?: string }).code ?? 'error', {
          cause: err,
        }),
      );
  }
}
