import { DomainError } from '../domain-error.js';

/**
 * Deepest nesting of arrays and objects a body may have. JSON.parse reads any depth, but JSON.stringify
 * recurses and throws at a few thousand levels: a deeper message would be accepted and then fail every
 * answer that carries it (and every store write and forward). Real JSON rarely goes past a few dozen.
 */
export const MAX_JSON_DEPTH = 256;

/**
 * A JSON body as JSON.parse reads it. Fastify's own parser refuses `__proto__` and `constructor` keys, but a
 * message is any JSON and must come back as sent: JSON.parse makes such keys plain own properties (it never
 * sets a prototype), the wire schemas refuse unknown keys in the envelope, and message bodies are only ever
 * stored and serialized again, never merged into other objects. Throws a DomainError (400 INVALID_REQUEST) saying what is wrong.
 */
export function parseJson(text: string): unknown {
  // A body shorter than twice the limit cannot nest deeper: most are, and skip the scan.
  if (text.length > 2 * MAX_JSON_DEPTH && nestedDeeperThan(text, MAX_JSON_DEPTH)) {
    throw new DomainError('INVALID_REQUEST', `body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DomainError('INVALID_REQUEST', `body is not valid JSON: ${(err as Error).message}`);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whether JSON text opens more than `limit` arrays or objects inside one another (strings skipped). */
export function nestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // To the closing quote: the next one not escaped by an odd number of backslashes.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i < 0) return false;
        let before = i - 1;
        while (text.charCodeAt(before) === BACKSLASH) before--;
        if ((i - 1 - before) % 2 === 0) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
