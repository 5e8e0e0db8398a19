import { ServerProcess, type StartOptions } from '../../e2e/support/server.ts';

export { ServerProcess, freePort } from '../../e2e/support/server.ts';

/** Servers started by a test file; `stopAll` in afterAll stops whatever is still running. */
export class Servers {
  private readonly started: ServerProcess[] = [];

  async start(options: StartOptions = {}): Promise<ServerProcess> {
    const server = await ServerProcess.start(options);
    this.started.push(server);
    return server;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.started.map((server) => server.stop()));
  }
}

/** The server's count of waiting receivers and blocked senders (gauge `ipubsub_waiting_clients`). */
export async function waitingClients(server: ServerProcess): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = /^ipubsub_waiting_clients (\d+)/m.exec(text);
  if (line === null) throw new Error('ipubsub_waiting_clients missing from /metrics');
  return Number(line[1]);
}

/** Polls `read` until it returns `expected` or `timeoutMs` passes; resolves with the last value read. */
export async function eventually<T>(read: () => Promise<T>, expected: T, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (value !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = await read();
  }
  return value;
}

let streamCounter = 0;
/** A stream name no other test uses. */
export function uniqueStream(prefix = 'sdk'): string {
  return `${prefix}-${process.pid}-${Date.now()}-${++streamCounter}`;
}

/** A fetch that records every request it passes on to the real global fetch. */
export function recordingFetch(): { fetch: typeof fetch; requests: { url: string; body?: string }[] } {
  const requests: { url: string; body?: string }[] = [];
  return {
    requests,
    fetch: (input, init) => {
      requests.push({
        url: input instanceof Request ? input.url : input.toString(),
        body: init?.body as string | undefined,
      });
      return fetch(input, init);
    },
  };
}

/**
 * Whether the server answers store-backed reads (`readFromDB`). A server built without persistence answers
 * 503 STORE_UNAVAILABLE, and the store tests skip, saying so; any other answer lets them run (and fail if wrong).
 */
export async function answersReadFromDB(server: ServerProcess): Promise<boolean> {
  const response = await server.receive({ streamId: uniqueStream('probe'), readFromDB: true, timeoutSeconds: 0 });
  const body = (await response.json().catch(() => ({}))) as { code?: string };
  return !(response.status === 503 && body.code === 'STORE_UNAVAILABLE');
}
