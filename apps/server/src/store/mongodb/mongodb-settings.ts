import type { MongoClientOptions } from 'mongodb';

/** The database a store.url names when its path is empty. */
export const DEFAULT_DATABASE = 'ipubsub';

/**
 * Timeouts the store needs to refuse a bad URL at start and answer 503 (not hang) while the server is away. Each
 * applies only when the URL does not set it: the URL is the operator's, with every option the driver takes. (Driver
 * 7 ignores `timeoutMS`, the bound on a whole operation: these are the bounds it honours.)
 */
const DEFAULT_OPTIONS = {
  serverSelectionTimeoutMS: 5_000,
  connectTimeoutMS: 5_000,
  // A reply that never comes on an open connection (a partition, a frozen server) fails the round trip and closes
  // the connection. The driver arms it only while a command waits for its reply, so idle pooled connections stay.
  socketTimeoutMS: 10_000,
  // A request waiting for a pooled connection while all are caught in such round trips.
  waitQueueTimeoutMS: 5_000,
} as const satisfies MongoClientOptions;

/**
 * The database named by the URL's path (`mongodb://host/<db>?...`, `mongodb+srv://host/<db>`), or
 * DEFAULT_DATABASE. The driver itself would fall back to `test`, which no operator means.
 */
export function databaseName(url: string): string {
  const match = /^mongodb(?:\+srv)?:\/\/[^/?#]*\/([^?#]*)/.exec(url);
  const name = decodeURIComponent(match?.[1] ?? '');
  return name === '' ? DEFAULT_DATABASE : name;
}

/** The driver options the store adds to the URL's: DEFAULT_OPTIONS the URL leaves out (case as the driver). */
export function clientOptions(url: string): MongoClientOptions {
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1).toLowerCase() : '';
  const set = new Set(query.split('&').map((pair) => pair.split('=')[0]));
  return Object.fromEntries(Object.entries(DEFAULT_OPTIONS).filter(([name]) => !set.has(name.toLowerCase())));
}

/** The URL without its password, for messages. */
export function redactMongoUrl(url: string): string {
  return url.replace(/^(mongodb(?:\+srv)?:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}
