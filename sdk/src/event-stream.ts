import { DEFAULTS } from './defaults.js';
import type { Poll } from './subscription.js';
import type { ReceivedMessage } from './wire-types.generated.js';

/** Opens the server's live tail of a stored stream after a resume token (none: from the oldest retained). */
export type OpenTail = (resumeToken: string | undefined, signal: AbortSignal) => Promise<Response>;

/** The server writes `retry:` as soon as a tail opens: nothing by then means a proxy is buffering the stream. */
const FIRST_BYTES_MS = 5_000;

/**
 * A stored subscription's polls served from one live tail (Server-Sent Events) instead of a request per message:
 * each poll takes the tail's next message, waiting up to its `timeoutSeconds`. A tail the server ends (its
 * lifetime, the stream moving) is reopened from the last message's token. If the tail cannot be had — an older
 * server, a proxy that buffers, a refused token, a failure — the subscription long-polls from then on, from the
 * same token, so nothing is skipped or repeated (and long polls surface errors and retry as usual).
 */
export function eventStreamPoll<T>(open: OpenTail, longPoll: Poll<T>): Poll<T> {
  let tail: TailReader | undefined;
  let failed = false;
  return async (query, signal) => {
    if (!failed) {
      try {
        if (tail === undefined || tail.ended || tail.position !== query.dbResumeToken) {
          tail?.close();
          tail = await TailReader.open(open, query.dbResumeToken, signal);
        }
        return (await tail.next((query.timeoutSeconds ?? DEFAULTS.timeoutSeconds) * 1000)) as ReceivedMessage<T> | null;
      } catch (error) {
        if (signal.aborted) throw error;
        failed = true;
        tail?.close();
      }
    }
    return longPoll(query, signal);
  };
}

/** One open live tail: its events parsed as they arrive, handed out one message at a time. */
class TailReader {
  /** Token after the last message handed out: where a reconnection resumes. */
  position: string | undefined;
  ended = false;
  private buffer = '';
  private gap: ReceivedMessage['gap'];
  private pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  private readonly decoder = new TextDecoder();

  private constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly controller: AbortController,
    position: string | undefined,
  ) {
    this.position = position;
  }

  static async open(open: OpenTail, position: string | undefined, signal: AbortSignal): Promise<TailReader> {
    const controller = new AbortController();
    const stop = (): void => controller.abort(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    controller.signal.addEventListener('abort', () => signal.removeEventListener('abort', stop), { once: true });
    const response = await open(position, controller.signal);
    if (!response.ok || !response.headers.get('content-type')?.startsWith('text/event-stream') || !response.body) {
      controller.abort();
      throw new Error(`no live tail: ${response.status}`);
    }
    const tail = new TailReader(response.body.getReader(), controller, position);
    if (!(await tail.fill(FIRST_BYTES_MS))) {
      tail.close();
      throw new Error('the live tail sent nothing: buffered on the way');
    }
    return tail;
  }

  /** The next message, or null when none came within `waitMs` or the server ended the tail (`ended`). */
  async next(waitMs: number): Promise<ReceivedMessage | null> {
    const until = Date.now() + waitMs;
    for (;;) {
      const message = this.take();
      if (message !== null) return message;
      if (this.ended || !(await this.fill(until - Date.now()))) return null;
    }
  }

  close(): void {
    this.controller.abort();
  }

  /** Reads what arrives within `ms` into the buffer; false when nothing did (or the tail ended). */
  private async fill(ms: number): Promise<boolean> {
    if (ms <= 0) return false;
    this.pending ??= this.reader.read();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    });
    const read = await Promise.race([this.pending, timeout]).finally(() => clearTimeout(timer));
    if (read === undefined) return false;
    this.pending = undefined;
    if (read.done) {
      this.ended = true;
      return false;
    }
    this.buffer += this.decoder.decode(read.value, { stream: true });
    return true;
  }

  /** The first complete message event in the buffer; a gap event marks the message after it. */
  private take(): ReceivedMessage | null {
    for (let end = this.buffer.indexOf('\n\n'); end !== -1; end = this.buffer.indexOf('\n\n')) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      let data = '';
      let id: string | undefined;
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue; // a comment (heartbeat) or a field without value
        const value = line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
        const field = line.slice(0, colon);
        if (field === 'event') event = value;
        else if (field === 'data') data += value;
        else if (field === 'id') id = value;
      }
      if (event === 'gap') this.gap = JSON.parse(data) as ReceivedMessage['gap'];
      else if (event === 'message' && data !== '') {
        const message = JSON.parse(data) as ReceivedMessage;
        message.dbResumeToken = this.position = id;
        if (this.gap !== undefined) message.gap = this.gap;
        this.gap = undefined;
        return message;
      }
    }
    return null;
  }
}
