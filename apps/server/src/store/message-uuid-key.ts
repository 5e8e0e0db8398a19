/**
 * A messageUuid as the database servers store it: JSON-escaped, because PostgreSQL text cannot hold NUL and a
 * lone surrogate would come back as U+FFFD from any server that stores UTF-8 (the SQL ones, MongoDB's BSON).
 * Ordinary ids are unchanged by the escaping.
 */
export function encodeUuid(uuid: string): string {
  return JSON.stringify(uuid).slice(1, -1);
}

export function decodeUuid(stored: string): string {
  return stored.includes('\\') ? (JSON.parse(`"${stored}"`) as string) : stored;
}
