/**
 * Ids are stored JSON-escaped: PostgreSQL text cannot hold NUL, and a lone surrogate would come back as U+FFFD
 * from any of the databases. Ordinary ids are unchanged by the escaping.
 */
export function encodeUuid(uuid: string): string {
  return JSON.stringify(uuid).slice(1, -1);
}

export function decodeUuid(stored: string): string {
  return stored.includes('\\') ? (JSON.parse(`"${stored}"`) as string) : stored;
}
