// The floor: the least a server can do for iPubSub's send and in-memory receive API on bare node:http —
// parse the JSON, check the required fields, push to a Map of arrays, answer; long-poll receivers wait in a
// second Map. No schema validation, limits, dedup, metrics, CORS or framework. The benchmark runs the same
// load against it to show what the real server costs on top of Node itself.
//
//   node bench/floor-server.mjs <port>      prints "listening <port>" when ready
import { createServer } from 'node:http';

const SEND_PATH = '/api/v1/streams/send';
const RECEIVE_PATH = '/api/v1/streams/receive';

/** streamId → buffered messages, oldest first. */
const buffers = new Map();
/** streamId → parked receivers (responses), oldest first. */
const waiters = new Map();

function answer(res, status, body) {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
  });
  res.end(json);
}

function deliver(res, message) {
  answer(res, 200, {
    messageUuid: message.messageUuid,
    message: message.message,
    timestamp: new Date(message.timestamp).toISOString(),
  });
}

function send(req, res) {
  let text = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => (text += chunk));
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      return answer(res, 400, { error: 'invalid JSON', code: 'INVALID_REQUEST' });
    }
    if (typeof body?.streamId !== 'string' || typeof body.messageUuid !== 'string' || !('message' in body)) {
      return answer(res, 400, { error: 'streamId, messageUuid and message are required', code: 'INVALID_REQUEST' });
    }
    const message = { messageUuid: body.messageUuid, message: body.message, timestamp: Date.now() };
    const parked = waiters.get(body.streamId);
    if (parked !== undefined && parked.length > 0) {
      const waiter = parked.shift();
      clearTimeout(waiter.timer);
      deliver(waiter.res, message);
    } else {
      let buffer = buffers.get(body.streamId);
      if (buffer === undefined) buffers.set(body.streamId, (buffer = []));
      buffer.push(message);
    }
    answer(res, 200, { messageUuid: message.messageUuid, timestamp: new Date(message.timestamp).toISOString() });
  });
}

function receive(req, res) {
  const query = new URLSearchParams(req.url.slice(RECEIVE_PATH.length + 1));
  const streamId = query.get('streamId');
  if (streamId === null) return answer(res, 400, { error: 'streamId is required', code: 'INVALID_REQUEST' });
  const buffer = buffers.get(streamId);
  if (buffer !== undefined && buffer.length > 0) {
    const message = buffer.shift();
    if (buffer.length === 0) buffers.delete(streamId);
    return deliver(res, message);
  }
  const timeoutMs = Number(query.get('timeoutSeconds') ?? 30) * 1000;
  if (!(timeoutMs > 0)) return answer(res, 424, { error: 'no message', code: 'NO_MESSAGE' });
  let parked = waiters.get(streamId);
  if (parked === undefined) waiters.set(streamId, (parked = []));
  const waiter = { res, timer: undefined };
  const leave = () => {
    const at = parked.indexOf(waiter);
    if (at >= 0) parked.splice(at, 1);
    if (parked.length === 0 && waiters.get(streamId) === parked) waiters.delete(streamId);
  };
  waiter.timer = setTimeout(() => {
    leave();
    answer(res, 424, { error: 'no message', code: 'NO_MESSAGE' });
  }, timeoutMs);
  res.on('close', () => {
    if (res.writableFinished) return;
    clearTimeout(waiter.timer);
    leave();
  });
  parked.push(waiter);
}

/** For the benchmark to see that every receiver is parked; not on any hot path. */
function countWaiters() {
  let n = 0;
  for (const parked of waiters.values()) n += parked.length;
  return n;
}

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === SEND_PATH) return send(req, res);
  if (req.method === 'GET' && req.url.startsWith(RECEIVE_PATH + '?')) return receive(req, res);
  if (req.url === '/ready') return answer(res, 200, { ready: true, waiters: countWaiters() });
  answer(res, 404, { error: 'no such route', code: 'NOT_FOUND' });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
