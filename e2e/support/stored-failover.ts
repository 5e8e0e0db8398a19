import { setTimeout as sleep } from 'node:timers/promises';
import { Ring } from '../../apps/server/src/cluster/ring.js';
import type { TestCluster } from './cluster.js';
import type { ServerProcess } from './server.js';

/** What one run of the owner-crash scenario measured (docs/operations/cluster.md records them per store). */
export interface FailoverFigures {
  readonly acknowledged: number;
  /** Acknowledged messages read back from the start, through every member in turn. */
  readonly readable: number;
  readonly unreadable: number;
  /** Messages read back more than once in one pass over a stream. */
  readonly duplicates: number;
  /** Streams whose messages came back in another order than they were acknowledged. */
  readonly misordered: number;
  /** Reads resumed from tokens taken before, during and after the outage that returned exactly what followed. */
  readonly tokensResumed: number;
  readonly tokensTaken: number;
  /** Answers carrying `gap` in the read-back. */
  readonly gapReports: number;
  /** Sends answered other than 200 (then retried), by status: 503 while the owner is down, 0 a lost connection. */
  readonly retriedSends: Record<string, number>;
  /** Stored reads of the killed member's streams during the outage, by status. */
  readonly outageReads: Record<string, number>;
  /** From SIGKILL until every survivor's ring had dropped the member. */
  readonly convergedMs: number;
  /** From the restart until every ring held the member again. */
  readonly rejoinedMs: number;
}

export interface FailoverOptions {
  readonly streams: number;
  readonly perStream: number;
  readonly victim: string;
  /** How long the killed member stays down before it is restarted. */
  readonly downMs: number;
}

interface Token {
  readonly streamId: string;
  readonly token: string;
  /** How many of the stream's messages the token is past. */
  readonly seen: number;
}

interface ReadPage {
  messages: { messageUuid: string }[];
  dbResumeToken: string;
  gap?: { reason: string };
}

const count = (tally: Record<string, number>, key: string | number): void => {
  tally[key] = (tally[key] ?? 0) + 1;
};

/**
 * `streams` × `perStream` stored sends (each stream's in order, streams side by side) through the members in
 * turn, every refused or failed send retried until acknowledged. Halfway the owner `victim` is SIGKILLed, stays
 * down `downMs`, and is restarted with its disk. Then every stream is read back from the start through each
 * member, and from tokens taken before, during and after the outage through another member.
 */
export async function killOwnerUnderLoad(cluster: TestCluster, options: FailoverOptions): Promise<FailoverFigures> {
  const names = cluster.specs.map((spec) => spec.name);
  const ring = new Ring(
    names.map((name) => ({ name, http: '' })),
    0,
  );
  const streams = Array.from(
    { length: options.streams },
    (_, i) => `failover-${i}-${Math.random().toString(36).slice(2)}`,
  );
  const acked = new Map(streams.map((streamId) => [streamId, [] as string[]]));
  const total = options.streams * options.perStream;
  const retriedSends: Record<string, number> = {};
  const outageReads: Record<string, number> = {};
  const tokens: Token[] = [];
  let acknowledged = 0;
  let turn = 0;
  const nextNode = (): ServerProcess => {
    const running = cluster.others();
    return running[turn++ % running.length];
  };

  const sendAll = async (streamId: string): Promise<void> => {
    for (let n = 0; n < options.perStream; n++) {
      const messageUuid = `${streamId}-${n}`;
      for (;;) {
        let status = 0;
        try {
          const res = await nextNode().send({ streamId, messageUuid, message: { n }, writeToDB: true });
          status = res.status;
          await res.arrayBuffer();
        } catch {
          // The connection failed (the member was killed): retried like a refusal.
        }
        if (status === 200) break;
        if (status !== 503 && status !== 0) throw new Error(`stored send answered ${status}`);
        count(retriedSends, status);
        await sleep(50);
      }
      acked.get(streamId)!.push(messageUuid);
      acknowledged++;
    }
  };

  /** A token past the first messages of each stream given, read through any member. */
  const takeTokens = async (of: readonly string[]): Promise<void> => {
    for (const streamId of of) {
      const page = await readPage(nextNode(), streamId, undefined, 3);
      if (page !== null && typeof page === 'object' && page.messages.length > 0)
        tokens.push({ streamId, token: page.dbResumeToken, seen: page.messages.length });
    }
  };

  const victimStreams = streams.filter((streamId) => ring.owner(streamId)!.name === options.victim);
  const otherStreams = streams.filter((streamId) => ring.owner(streamId)!.name !== options.victim);
  const sending = Promise.all(streams.map(sendAll));
  const failed = sending.then(
    () => undefined,
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  );

  await until(() => acknowledged >= total / 4, failed);
  await takeTokens(streams);

  await until(() => acknowledged >= total / 2, failed);
  const killedAt = performance.now();
  await cluster.kill(options.victim, 'SIGKILL');
  const survivors = names.filter((name) => name !== options.victim);
  const convergedMs = await cluster.waitForRing(survivors, undefined, killedAt);
  for (const streamId of victimStreams) {
    const page = await readPage(cluster.others()[0], streamId, undefined, 1);
    count(outageReads, typeof page === 'number' ? page : page === null ? 424 : 200);
  }
  await takeTokens(otherStreams);
  await sleep(Math.max(0, options.downMs - (performance.now() - killedAt)));
  const restartedAt = performance.now();
  await cluster.startNode(options.victim);
  const rejoinedMs = await cluster.waitForRing(names, undefined, restartedAt);
  await takeTokens(victimStreams);

  const error = await failed;
  if (error !== undefined) throw error;
  await takeTokens(streams);

  let readable = 0;
  let duplicates = 0;
  let misordered = 0;
  let gapReports = 0;
  const members = cluster.others();
  for (const [i, streamId] of streams.entries()) {
    const expected = acked.get(streamId)!;
    for (let m = 0; m < members.length; m++) {
      const { uuids, gaps } = await readAll(members[(i + m) % members.length], streamId, undefined);
      gapReports += gaps;
      const distinct = new Set(uuids);
      duplicates += uuids.length - distinct.size;
      if (m === 0) readable += expected.filter((uuid) => distinct.has(uuid)).length;
      if (uuids.join() !== expected.join()) misordered++;
    }
  }
  let tokensResumed = 0;
  for (const [i, { streamId, token, seen }] of tokens.entries()) {
    const { uuids, gaps } = await readAll(members[i % members.length], streamId, token);
    gapReports += gaps;
    if (uuids.join() === acked.get(streamId)!.slice(seen).join()) tokensResumed++;
  }
  return {
    acknowledged,
    readable,
    unreadable: acknowledged - readable,
    duplicates,
    misordered,
    tokensResumed,
    tokensTaken: tokens.length,
    gapReports,
    retriedSends,
    outageReads,
    convergedMs,
    rejoinedMs,
  };
}

/** A page of stored messages; null at the end (424), the status of any other refusal. */
async function readPage(
  node: ServerProcess,
  streamId: string,
  token: string | undefined,
  maxMessages: number,
): Promise<ReadPage | null | number> {
  const query: Record<string, string | number | boolean> = {
    streamId,
    readFromDB: true,
    timeoutSeconds: 0,
    maxMessages,
  };
  if (token !== undefined) query.dbResumeToken = token;
  const res = await node.receive(query);
  if (res.status === 424) {
    await res.arrayBuffer();
    return null;
  }
  if (res.status !== 200) {
    await res.arrayBuffer();
    return res.status;
  }
  return (await res.json()) as ReadPage;
}

/** Every stored message after `token` (all: none), read through `node` in pages; retries refusals a while. */
async function readAll(
  node: ServerProcess,
  streamId: string,
  token: string | undefined,
): Promise<{ uuids: string[]; gaps: number }> {
  const uuids: string[] = [];
  let gaps = 0;
  let refusals = 0;
  for (;;) {
    const page = await readPage(node, streamId, token, 1000);
    if (page === null) return { uuids, gaps };
    if (typeof page === 'number') {
      if (++refusals > 100) throw new Error(`reading ${streamId} through ${node.url} kept answering ${page}`);
      await sleep(100);
      continue;
    }
    if (page.gap !== undefined) gaps++;
    for (const message of page.messages) uuids.push(message.messageUuid);
    token = page.dbResumeToken;
  }
}

/** Resolves once `condition` holds; rejects if `failed` settles with an error first. */
async function until(condition: () => boolean, failed: Promise<Error | undefined>): Promise<void> {
  let error: Error | undefined;
  void failed.then((err) => (error = err));
  while (!condition()) {
    if (error !== undefined) throw error;
    await sleep(20);
  }
}
