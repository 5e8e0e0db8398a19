// Where a MongoDB store's time goes: the cost of each request a group commit and a read make, on the server at
// IPUBSUB_TEST_MONGODB_URL (scripts/mongodb.sh: FerretDB), over a messages collection of 1,000 and 5,000 documents
// shaped as the store writes them, in a scratch database dropped afterwards. Each figure is the mean of 5 runs.
//   node bench/mongodb-ops.mjs
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { REPO_ROOT } from './lib/processes.mjs';

const serverUrl = process.env.IPUBSUB_TEST_MONGODB_URL;
if (serverUrl === undefined || serverUrl === '') {
  console.log('skipped: set IPUBSUB_TEST_MONGODB_URL (scripts/mongodb.sh start; eval "$(scripts/mongodb.sh env)")');
  process.exit(0);
}
const { MongoClient } = createRequire(join(REPO_ROOT, 'apps/server/package.json'))('mongodb');
const STREAMS = 64;
const client = new MongoClient(serverUrl);
const db = client.db(`ipubsub_bench_${randomBytes(4).toString('hex')}`);
const messages = db.collection('messages');
const heads = db.collection('streams');

async function time(label, work, runs = 5) {
  const started = performance.now();
  for (let i = 0; i < runs; i++) await work();
  console.log(`  ${label.padEnd(52)} ${((performance.now() - started) / runs).toFixed(1).padStart(8)} ms`);
}

let seq = 0;
const documents = (n) =>
  Array.from({ length: n }, (_, i) => ({
    _id: JSON.stringify([`s${i % STREAMS}`, `m${++seq}`]),
    s: `s${i % STREAMS}`,
    q: seq,
    t: Date.now(),
    e: new Date(Date.now() + 86_400_000),
    p: JSON.stringify('x'.repeat(100)),
  }));
const streamIds = Array.from({ length: STREAMS }, (_, i) => `s${i}`);

try {
  await messages.createIndex({ s: 1, q: 1 }, { name: 'stream_seq', unique: true });
  await heads.insertMany(streamIds.map((_id) => ({ _id, q: 0, e: new Date() })));
  for (const size of [1_000, 5_000]) {
    while ((await messages.estimatedDocumentCount()) < size) await messages.insertMany(documents(1_000));
    console.log(`messages: ${await messages.countDocuments()} documents`);
    await time(`id look-up: find _id $in ${STREAMS} ids`, () =>
      messages.find({ _id: { $in: streamIds.map((s) => JSON.stringify([s, 'absent'])) } }).toArray(),
    );
    await time(`claims: ${STREAMS} findOneAndUpdate $inc by _id, in parallel`, () =>
      Promise.all(streamIds.map((_id) => heads.findOneAndUpdate({ _id }, { $inc: { q: 1 } }))),
    );
    await time('claim: one findOneAndUpdate $inc by _id', () =>
      heads.findOneAndUpdate({ _id: 's1' }, { $inc: { q: 1 } }),
    );
    await time(`insert: insertMany of ${STREAMS} messages`, () => messages.insertMany(documents(STREAMS)));
    await time('read: one stream, q > x, unexpired, sorted, limit 100', () =>
      messages
        .find({ s: 's3', q: { $gt: 10 }, e: { $gt: new Date() } })
        .sort({ q: 1 })
        .limit(100)
        .toArray(),
    );
    await time('point read: findOne by _id', () => heads.findOne({ _id: 's5' }));
  }
} finally {
  await db.dropDatabase();
  await client.close();
}
