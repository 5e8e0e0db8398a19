// Stored messages, per store adapter (SQLite always; PostgreSQL, MariaDB, Cassandra and MongoDB when
// IPUBSUB_TEST_POSTGRES_URL, IPUBSUB_TEST_MYSQL_URL, IPUBSUB_TEST_CASSANDRA_URL and IPUBSUB_TEST_MONGODB_URL are set,
// each in a scratch database dropped afterwards).
// With BENCH_BASELINE (the root of another built checkout) its node is measured too, alternating with this one for
// BENCH_ROUNDS rounds, each round on a fresh node and store:
//   stored sends   writeToDB sends/s answered 200 (durable), SENDERS keep-alive connections sending back to
//                  back, one stream each; beside it the same load without writeToDB (in memory), as the ceiling
//                  of this machine at that moment
//   replay         messages/s read back with maxMessages=100, REPLAY_READERS readers following their tokens
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { options } from './lib/options.mjs';
import { cpuSecondsOf, REPO_ROOT, ServerUnderTest, withServer } from './lib/processes.mjs';
import { payloadOf, RawConnection, sendRequest } from './lib/raw-http.mjs';
import { countedWindow, requestLoop } from './lib/request-loops.mjs';
import { count, heading, line, percent, summary, target } from './lib/report.mjs';

/** Concurrent stored sends, as issue 4 states its targets (not BENCH_CONNECTIONS, which sizes the HTTP figures). */
const SENDERS = 64;
const REPLAY_BATCH = 100;
const REPLAY_READERS = 8;
const TARGETS = { sqlite: 10_000, postgres: 5_000, mysql: 5_000, cassandra: 5_000, mongodb: 5_000 };
const REPLAY_TARGET = 50_000;
const payload = payloadOf(options.MESSAGE_BYTES);
// The database clients are the server's dependencies.
const requireFromServer = createRequire(join(REPO_ROOT, 'apps/server/package.json'));

/** A database of its own on the test server, so a run neither sees nor leaves rows. */
async function scratchDatabase(type, serverUrl) {
  const name = `ipubsub_bench_${randomBytes(4).toString('hex')}`;
  if (type === 'mongodb') {
    // Created by the store's first write; the driver drops it.
    const client = new (requireFromServer('mongodb').MongoClient)(serverUrl);
    return {
      url: serverUrl.replace(/^(mongodb:\/\/[^/?]*)(?:\/[^?]*)?/, `$1/${name}`),
      drop: () =>
        client
          .db(name)
          .dropDatabase()
          .finally(() => client.close()),
    };
  }
  const run = async (statement) => {
    if (type === 'postgres') {
      const client = new (requireFromServer('pg').Client)({ connectionString: serverUrl });
      await client.connect();
      await client.query(statement).finally(() => client.end());
    } else if (type === 'cassandra') {
      const { host, searchParams } = new URL(serverUrl);
      const client = new (requireFromServer('cassandra-driver').Client)({
        contactPoints: [host],
        localDataCenter: searchParams.get('dc'),
      });
      await client.connect();
      await client.execute(statement).finally(() => client.shutdown());
    } else {
      const connection = await requireFromServer('mysql2/promise').createConnection(serverUrl);
      await connection.query(statement).finally(() => connection.end());
    }
  };
  const database = type === 'cassandra' ? 'KEYSPACE' : 'DATABASE';
  await run(
    type === 'cassandra'
      ? `CREATE KEYSPACE ${name} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`
      : `CREATE DATABASE ${name}`,
  );
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => run(`DROP ${database} IF EXISTS ${name}${type === 'postgres' ? ' WITH (FORCE)' : ''}`),
  };
}

/** Other work on the machine skews every figure: the one-minute load average goes beside each. */
const load = () => `load ${loadavg()[0].toFixed(2)}`;

/** Process names of each database server, whose CPU counts when it runs on this machine (the test servers do). */
const DATABASE_PROCESSES = { postgres: ['postgres'], mysql: ['mariadbd', 'mysqld'], mongodb: ['ferretdb', 'mongod'] };

/** CPU seconds used so far by the local processes of the store type's database server; 0 for none. */
function databaseCpuSeconds(type) {
  const names = DATABASE_PROCESSES[type] ?? [];
  let total = 0;
  for (const pid of names.length === 0 ? [] : readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let name;
    try {
      name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue; // gone meanwhile
    }
    if (names.includes(name)) total += cpuSecondsOf(pid) ?? 0;
  }
  return total;
}

/**
 * CPU time per stored message, the server's and the local database server's: steadier than the rate on a machine
 * shared with other work.
 */
const perMessage = ({ serverCpu, databaseCpu, perSecond }) =>
  `${((serverCpu * 1e6) / perSecond).toFixed(0)} µs per message` +
  (databaseCpu > 0 ? ` + ${((databaseCpu * 1e6) / perSecond).toFixed(0)} µs in the database` : '');

/** Runs `work` with CPU accounting for the server and the store's database: fractions of one core used meanwhile. */
async function withServerCpu(server, type, work) {
  const before = server.cpuSeconds();
  const databaseBefore = databaseCpuSeconds(type);
  const started = performance.now();
  const result = await work();
  const seconds = (performance.now() - started) / 1000;
  return {
    ...result,
    serverCpu: (server.cpuSeconds() - before) / seconds,
    databaseCpu: (databaseCpuSeconds(type) - databaseBefore) / seconds,
  };
}

/** Each connection sends messages to its own stream, the next as soon as the last is answered. */
async function sends(server, streams, writeToDB, seconds, warmupSeconds) {
  const connections = await Promise.all(streams.map(() => RawConnection.open(server.port)));
  let stored = 0;
  let failed = 0;
  const elapsed = await countedWindow({ warmupSeconds, seconds }, (window) => {
    connections.forEach((connection, i) => {
      let n = 0;
      const body = () =>
        `{"streamId":"${streams[i]}","messageUuid":"m${++n}","message":${payload}${writeToDB ? ',"writeToDB":true' : ''}}`;
      requestLoop(
        connection,
        window,
        () => sendRequest(body()),
        (status) => {
          if (status !== 200) failed++;
          else if (window.counting) stored++;
        },
      );
    });
  });
  // Let the last answers arrive before closing, so the server is not measured failing to write them.
  while (connections.some((c) => c.inFlight > 0)) await sleep(10);
  for (const connection of connections) connection.close();
  return { perSecond: stored / elapsed, failed };
}

function replayRequest(streamId, token) {
  const tokenPart = token === undefined ? '' : `&dbResumeToken=${token}`;
  return `GET /api/v1/streams/receive?streamId=${encodeURIComponent(streamId)}&readFromDB=true&timeoutSeconds=0&maxMessages=${REPLAY_BATCH}${tokenPart} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`;
}

/** Readers replay the streams from their start, batch after batch; at a stream's end a reader takes the next. */
async function replay(server, streams, seconds) {
  const connections = await Promise.all(Array.from({ length: REPLAY_READERS }, () => RawConnection.open(server.port)));
  let messages = 0;
  let failed = 0;
  const elapsed = await countedWindow({ warmupSeconds: 0, seconds }, (window) => {
    connections.forEach((connection, reader) => {
      let stream = reader % streams.length;
      let token;
      requestLoop(
        connection,
        window,
        () => replayRequest(streams[stream], token),
        (status, body) => {
          if (status === 200) {
            const batch = JSON.parse(body.toString());
            if (window.counting) messages += batch.messages.length;
            token = batch.dbResumeToken;
            return;
          }
          if (status !== 424) failed++;
          stream = (stream + REPLAY_READERS) % streams.length;
          token = undefined;
        },
      );
    });
  });
  while (connections.some((c) => c.inFlight > 0)) await sleep(10);
  for (const connection of connections) connection.close();
  return { perSecond: messages / elapsed, failed };
}

/** This checkout's build and, with BENCH_BASELINE, another built checkout's: measured alternately, round by round. */
const BUILDS = [['iPubSub', REPO_ROOT]];
if (options.BASELINE !== '') BUILDS.push(['baseline', options.BASELINE]);

/** One round of an adapter's figures on one build, on a fresh node and store; prints them, resolves to them. */
async function adapterRound(type, env, [build, root]) {
  const label = BUILDS.length > 1 ? `${build.padEnd(8)} ` : '';
  return withServer(
    () => ServerUnderTest.ipubsub(env, root),
    async (server) => {
      const streams = Array.from({ length: SENDERS }, (_, i) => `stored-${type}-${i}`);
      const memory = await withServerCpu(server, type, () =>
        sends(server, streams, false, options.DURATION, options.WARMUP),
      );
      line(
        type,
        `${label}${count(memory.perSecond).padStart(7)} in-memory sends/s (reference)   server CPU ${percent(memory.serverCpu)}   ${load()}`,
      );
      const stored = await withServerCpu(server, type, () =>
        sends(server, streams, true, options.DURATION, options.WARMUP),
      );
      line(
        type,
        `${label}${count(stored.perSecond).padStart(7)} stored sends/s   ${stored.failed} failed   server CPU ${percent(stored.serverCpu)} ` +
          `(${perMessage(stored)})   ${percent(stored.perSecond / memory.perSecond)} of in-memory   ${load()}`,
      );
      const replayed = await withServerCpu(server, type, () => replay(server, streams, options.DURATION));
      line(
        type,
        `${label}${count(replayed.perSecond).padStart(7)} replayed messages/s   ${replayed.failed} failed   server CPU ${percent(replayed.serverCpu)}   ${load()}`,
      );
      return { stored, replayed };
    },
  );
}

/** BENCH_ROUNDS rounds of every build, each in a store of its own; the targets judge this build's best round. */
async function adapterFigures(type, env, serverUrl) {
  const best = { stored: null, replayed: null };
  for (let round = 0; round < options.ROUNDS; round++) {
    for (const build of BUILDS) {
      const database = serverUrl === undefined ? null : await scratchDatabase(type, serverUrl);
      try {
        const figures = await adapterRound(
          type,
          database === null ? env : { ...env, IPUBSUB_STORE_URL: database.url },
          build,
        );
        if (build[1] !== REPO_ROOT) continue;
        for (const key of ['stored', 'replayed'])
          if (best[key] === null || figures[key].perSecond > best[key].perSecond) best[key] = figures[key];
      } finally {
        await database?.drop();
      }
    }
  }
  return [
    target(
      `${type}: stored sends ≥ ${count(TARGETS[type])}/s`,
      best.stored.perSecond >= TARGETS[type] && best.stored.failed === 0,
    ),
    target(
      `${type}: replay ≥ ${count(REPLAY_TARGET)} messages/s`,
      best.replayed.perSecond >= REPLAY_TARGET && best.replayed.failed === 0,
    ),
  ];
}

heading(
  'Stored messages',
  `stored sends: ${SENDERS} connections sending back to back, one stream each, ${options.MESSAGE_BYTES}-byte messages, ` +
    `${options.DURATION} s after a ${options.WARMUP} s warm-up; replay: ${REPLAY_READERS} readers, maxMessages=${REPLAY_BATCH}, ${options.DURATION} s` +
    (options.ROUNDS > 1 ? `; ${options.ROUNDS} rounds, targets judged on the best` : ''),
);
const verdicts = [];
verdicts.push(...(await adapterFigures('sqlite', { IPUBSUB_STORE_TYPE: 'sqlite' })));
for (const [type, variable] of [
  ['postgres', 'IPUBSUB_TEST_POSTGRES_URL'],
  ['mysql', 'IPUBSUB_TEST_MYSQL_URL'],
  ['cassandra', 'IPUBSUB_TEST_CASSANDRA_URL'],
  ['mongodb', 'IPUBSUB_TEST_MONGODB_URL'],
]) {
  const serverUrl = process.env[variable];
  if (serverUrl === undefined || serverUrl === '') {
    line(
      type,
      `skipped: set ${variable} (${{ cassandra: 'scripts/cassandra.sh start', mongodb: 'scripts/mongodb.sh start; eval "$(scripts/mongodb.sh env)"' }[type] ?? 'eval "$(scripts/databases.sh env)"'})`,
    );
    continue;
  }
  verdicts.push(...(await adapterFigures(type, { IPUBSUB_STORE_TYPE: type }, serverUrl)));
}
summary('Targets (stored messages)', verdicts);
