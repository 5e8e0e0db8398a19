import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { ServerProcess } from './server.js';

/** A stream id no other test uses. */
export function uniqueStreamId(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

/** Checks a non-200 answer is `{error, code}` JSON with the given status and code, and returns the body. */
export async function expectError(
  res: Response,
  status: number,
  code: string,
): Promise<{ error: string; code: string }> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(text) as { error: string; code: string };
  expect(body.code, text).toBe(code);
  expect(typeof body.error).toBe('string');
  expect(body.error.length).toBeGreaterThan(0);
  return body;
}

/** Parses the Prometheus text of /metrics into `name{labels}` → value. */
export async function scrapeMetrics(server: ServerProcess): Promise<Map<string, number>> {
  const res = await fetch(`${server.url}/metrics`);
  expect(res.status).toBe(200);
  const values = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** Waits until a gauge on /metrics shows `value`. */
export async function waitForGauge(
  server: ServerProcess,
  name: string,
  value: number,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen: number | undefined;
  while (Date.now() < deadline) {
    seen = (await scrapeMetrics(server)).get(name);
    if (seen === value) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`expected ${name} ${value}, the node reports ${seen}`);
}

/** Waits until the node reports this many waiting receivers and blocked senders. */
export function waitForWaiters(server: ServerProcess, count: number): Promise<void> {
  return waitForGauge(server, 'ipubsub_waiting_clients', count);
}

/** Whether a promise is still unsettled after `ms`. */
export async function stillPendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const pending = Symbol('pending');
  const winner = await Promise.race([
    promise.then(
      () => null,
      () => null,
    ),
    new Promise((r) => setTimeout(() => r(pending), ms)),
  ]);
  return winner === pending;
}

/** Resolves a promise and how long it took, in milliseconds. */
export async function timed<T>(promise: Promise<T>, start = performance.now()): Promise<[T, number]> {
  const value = await promise;
  return [value, performance.now() - start];
}

/**
 * The messageUuid of every stored message of the stream after `token` (none: from the start), oldest first, read
 * through `node` in pages until a read finds nothing; `gaps` counts the pages that reported expired messages.
 */
export async function readStoredUuids(
  node: ServerProcess,
  streamId: string,
  token?: string,
): Promise<{ uuids: string[]; gaps: number }> {
  const uuids: string[] = [];
  let gaps = 0;
  for (;;) {
    const query: Record<string, string | number | boolean> = {
      streamId,
      readFromDB: true,
      timeoutSeconds: 0,
      maxMessages: 1000,
    };
    if (token !== undefined) query.dbResumeToken = token;
    const res = await node.receive(query);
    if (res.status === 424) return { uuids, gaps };
    expect(res.status, await res.clone().text()).toBe(200);
    const page = (await res.json()) as { messages: { messageUuid: string }[]; dbResumeToken: string; gap?: unknown };
    if (page.gap !== undefined) gaps++;
    for (const message of page.messages) uuids.push(message.messageUuid);
    token = page.dbResumeToken;
  }
}
