/**
 * What the server takes for an optional field left out: the wire schemas declare it, the server applies it, and
 * the client sizes its deadlines by it. Apart from wire.ts so that the client bundle carries it without TypeBox.
 */
export const DEFAULTS = {
  inMemoryStreamSize: 100,
  blockingSendTimeoutSeconds: 0,
  dbTTLSeconds: 86_400,
  timeoutSeconds: 30,
} as const;
