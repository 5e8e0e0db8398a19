/** One Server-Sent Event as a reader sees it; a comment line (heartbeat) has `comment` set instead. */
export interface ServerSentEvent {
  event: string;
  id?: string;
  data: string;
  comment?: string;
}

/**
 * A Server-Sent Events connection read with fetch: events are parsed as they arrive (the text/event-stream
 * format: fields per line, events ended by a blank line) and handed out in order by `next()`.
 */
export class EventStreamReader {
  private readonly events: ServerSentEvent[] = [];
  private waiting: (() => void) | null = null;
  private buffer = '';
  private ended = false;
  readonly closed: Promise<void>;

  private constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {
    this.closed = this.pump();
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<EventStreamReader> {
    const controller = new AbortController();
    const response = await fetch(url, { headers, signal: controller.signal });
    return new EventStreamReader(response, controller);
  }

  /** The next event (comments included), or null once the server ended the stream. */
  async next(timeoutMs = 10_000): Promise<ServerSentEvent | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length === 0 && !this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.events.shift() ?? null;
  }

  /** The next `count` message events, skipping comments. */
  async messages(count: number, timeoutMs = 10_000): Promise<ServerSentEvent[]> {
    const found: ServerSentEvent[] = [];
    while (found.length < count) {
      const event = await this.next(timeoutMs);
      if (event === null) throw new Error(`stream ended after ${found.length} of ${count} messages`);
      if (event.comment === undefined) found.push(event);
    }
    return found;
  }

  close(): void {
    this.controller.abort();
  }

  private async pump(): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of this.response.body!) {
        this.buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = this.buffer.indexOf('\n\n')) !== -1) {
          const block = this.buffer.slice(0, end);
          this.buffer = this.buffer.slice(end + 2);
          const event = parseBlock(block);
          if (event !== null) this.events.push(event);
        }
        this.wake();
      }
    } catch {
      // aborted by close()
    } finally {
      this.ended = true;
      this.wake();
    }
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }
}

function parseBlock(block: string): ServerSentEvent | null {
  const event: ServerSentEvent = { event: 'message', data: '' };
  const data: string[] = [];
  let fields = 0;
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      event.comment = line.slice(1).trim();
      fields++;
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (name === 'retry') continue;
    fields++;
    if (name === 'data') data.push(value);
    else if (name === 'id') event.id = value;
    else if (name === 'event') event.event = value;
  }
  if (fields === 0) return null;
  event.data = data.join('\n');
  return event;
}
