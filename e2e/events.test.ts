import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, scrapeMetrics, uniqueStreamId } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';
import { EventStreamReader } from './support/sse.js';
import { storeBackends, type StoreUnderTest } from './support/stores.js';
import { bearer, signToken, TEST_JWT_SECRET } from './support/tokens.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function store(server: ServerProcess, streamId: string, messageUuid: string, message: unknown, extra = {}) {
  const res = await fetch(`${server.url}/api/v1/streams/send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ streamId, messageUuid, message, writeToDB: true, ...extra }),
  });
  expect(res.status).toBe(200);
}

function eventsUrl(server: ServerProcess, streamId: string, query = ''): string {
  return `${server.url}/api/v1/streams/events?streamId=${encodeURIComponent(streamId)}${query}`;
}

const uuids = (events: { data: string }[]): string[] =>
  events.map((e) => (JSON.parse(e.data) as { messageUuid: string }).messageUuid);

/** The live tail of stored streams as Server-Sent Events, on every store. */
for (const backend of storeBackends()) {
  describe(`live tail (Server-Sent Events): ${backend.type}`, () => {
    let db: StoreUnderTest;
    let server: ServerProcess;

    beforeAll(async () => {
      db = await backend.create();
      server = await ServerProcess.start({
        env: { ...db.env, IPUBSUB_STORE_PURGEINTERVALSECONDS: '0.2', IPUBSUB_EVENTS_HEARTBEATSECONDS: '0.3' },
      });
    });

    afterAll(async () => {
      await server?.stop();
      await db?.dispose();
    });

    it('replays what is stored, then sends each new message as it is stored', async () => {
      const s = uniqueStreamId('sse-live');
      for (let i = 0; i < 3; i++) await store(server, s, `m${i}`, { n: i, 'with "quotes"': ['é', null] });
      const reader = await EventStreamReader.open(eventsUrl(server, s));
      expect(reader.response.status).toBe(200);
      expect(reader.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const replayed = await reader.messages(3);
      expect(uuids(replayed)).toEqual(['m0', 'm1', 'm2']);
      expect(JSON.parse(replayed[1].data)).toMatchObject({ message: { n: 1, 'with "quotes"': ['é', null] } });
      expect(JSON.parse(replayed[0].data).timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      await store(server, s, 'm3', 'live');
      const [live] = await reader.messages(1);
      expect(JSON.parse(live.data)).toMatchObject({ messageUuid: 'm3', message: 'live' });
      reader.close();
    });

    it('resumes after Last-Event-ID with neither gap nor duplicate; each id is a resume token', async () => {
      const s = uniqueStreamId('sse-resume');
      for (let i = 0; i < 5; i++) await store(server, s, `m${i}`, i);
      const first = await EventStreamReader.open(eventsUrl(server, s));
      const two = await first.messages(2);
      first.close();
      await store(server, s, 'm5', 5);
      const again = await EventStreamReader.open(eventsUrl(server, s), { 'last-event-id': two[1].id! });
      expect(uuids(await again.messages(4))).toEqual(['m2', 'm3', 'm4', 'm5']);
      again.close();
      // The same id works as a long-poll resume token, and the long-poll token as a starting point here.
      const polled = await fetch(
        `${server.url}/api/v1/streams/receive?streamId=${s}&readFromDB=true&timeoutSeconds=0&dbResumeToken=${two[1].id}`,
      );
      const body = (await polled.json()) as { messageUuid: string; dbResumeToken: string };
      expect(body.messageUuid).toBe('m2');
      const fromToken = await EventStreamReader.open(eventsUrl(server, s, `&dbResumeToken=${body.dbResumeToken}`));
      expect(uuids(await fromToken.messages(3))).toEqual(['m3', 'm4', 'm5']);
      fromToken.close();
    });

    it('from=now sends only what is stored after the tail opened', async () => {
      const s = uniqueStreamId('sse-now');
      for (let i = 0; i < 3; i++) await store(server, s, `old${i}`, i);
      const reader = await EventStreamReader.open(eventsUrl(server, s, '&from=now'));
      const heartbeat = await reader.next();
      expect(heartbeat?.comment).toBe('keep-alive');
      await store(server, s, 'new', 'x');
      expect(uuids(await reader.messages(1))).toEqual(['new']);
      reader.close();
    });

    it('reports a gap event when messages after the resume point expired, then goes on', async () => {
      const s = uniqueStreamId('sse-gap');
      await store(server, s, 'kept-1', 1);
      const first = await EventStreamReader.open(eventsUrl(server, s));
      const [kept] = await first.messages(1);
      first.close();
      await store(server, s, 'short-1', 2, { dbTTLSeconds: 1 });
      await store(server, s, 'short-2', 3, { dbTTLSeconds: 1 });
      await store(server, s, 'kept-2', 4);
      await sleep(1_600);
      const reader = await EventStreamReader.open(eventsUrl(server, s), { 'last-event-id': kept.id! });
      const gap = await reader.next();
      expect(gap).toMatchObject({ event: 'gap', data: '{"reason":"expired"}' });
      expect(uuids(await reader.messages(1))).toEqual(['kept-2']);
      reader.close();
    });

    it('refuses a resume point that is not a token of the stream with 400 INVALID_RESUME_TOKEN', async () => {
      const s = uniqueStreamId('sse-bad');
      await expectError(await fetch(eventsUrl(server, s, '&dbResumeToken=AAAA')), 400, 'INVALID_RESUME_TOKEN');
      const other = await EventStreamReader.open(eventsUrl(server, uniqueStreamId('sse-other')));
      await store(server, s, 'x', 1);
      other.close();
      await expectError(
        await fetch(eventsUrl(server, s), { headers: { 'last-event-id': 'bogus' } }),
        400,
        'INVALID_RESUME_TOKEN',
      );
      await expectError(await fetch(eventsUrl(server, s, '&from=later')), 400, 'INVALID_REQUEST');
    });
  });
}

describe('live tail: connection limits', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await ServerProcess.start({
      env: {
        IPUBSUB_EVENTS_MAXLIFETIMESECONDS: '1',
        IPUBSUB_EVENTS_MAXPENDINGBYTES: '65536',
        IPUBSUB_EVENTS_HEARTBEATSECONDS: '0.2',
      },
    });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('ends a tail after its lifetime; the reader reconnects from its last id without loss', async () => {
    const s = uniqueStreamId('sse-lifetime');
    await store(server, s, 'a', 1);
    const reader = await EventStreamReader.open(eventsUrl(server, s));
    const [a] = await reader.messages(1);
    await reader.closed; // the server ends it after a second
    await store(server, s, 'b', 2);
    const next = await EventStreamReader.open(eventsUrl(server, s), { 'last-event-id': a.id! });
    expect(uuids(await next.messages(1))).toEqual(['b']);
    next.close();
  });

  it('disconnects a reader that does not read, and the node keeps no growing buffer for it', async () => {
    const s = uniqueStreamId('sse-slow');
    const url = new URL(eventsUrl(server, s));
    const socket = connect(server.port, '127.0.0.1');
    socket.pause(); // never reads: the kernel buffers fill, then the node's own
    socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const big = 'x'.repeat(200_000);
    let sent = 0;
    const dropped = async () => (await scrapeMetrics(server)).get('ipubsub_event_readers_dropped_total') ?? 0;
    while ((await dropped()) === 0 && sent < 400) await store(server, s, `big-${sent++}`, big);
    expect(await dropped()).toBe(1);
    socket.resume();
    await closed;
    expect((await scrapeMetrics(server)).get('ipubsub_event_streams_open')).toBe(0);
  });
});

describe('live tail with auth.mode jwt', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await ServerProcess.start({
      env: {
        IPUBSUB_AUTH_MODE: 'jwt',
        IPUBSUB_AUTH_JWT_SECRET: TEST_JWT_SECRET,
        IPUBSUB_LOG_REQUESTS: 'true',
        IPUBSUB_LOG_LEVEL: 'info',
      },
    });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('needs the receive scope, from the Authorization header or (for EventSource) access_token', async () => {
    const s = uniqueStreamId('feed.sse');
    const writer = await signToken(TEST_JWT_SECRET, { send: ['feed.*'] });
    const reader = await signToken(TEST_JWT_SECRET, { receive: ['feed.*'] });
    const other = await signToken(TEST_JWT_SECRET, { receive: ['orders.*'] });
    const res = await fetch(`${server.url}/api/v1/streams/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(writer) },
      body: JSON.stringify({ streamId: s, messageUuid: 'a', message: 1, writeToDB: true }),
    });
    expect(res.status).toBe(200);

    const anonymous = await fetch(eventsUrl(server, s));
    await expectError(anonymous, 401, 'UNAUTHORIZED');
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    await expectError(await fetch(eventsUrl(server, s), { headers: bearer(other) }), 403, 'FORBIDDEN');
    await expectError(await fetch(eventsUrl(server, s, `&access_token=${writer}`)), 403, 'FORBIDDEN');
    await expectError(await fetch(eventsUrl(server, s, '&access_token=not.a.jwt')), 401, 'UNAUTHORIZED');

    const byHeader = await EventStreamReader.open(eventsUrl(server, s), bearer(reader));
    expect(uuids(await byHeader.messages(1))).toEqual(['a']);
    byHeader.close();
    const byQuery = await EventStreamReader.open(eventsUrl(server, s, `&access_token=${reader}`));
    expect(uuids(await byQuery.messages(1))).toEqual(['a']);
    byQuery.close();
    // The access log names the requests, never the tokens in their query.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.log).toContain('access_token=[redacted]');
    expect(server.log).not.toContain(reader);
    expect(server.log).not.toContain(writer);
  });
});
