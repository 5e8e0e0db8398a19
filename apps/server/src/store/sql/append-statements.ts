import { MESSAGES_TABLE } from './table.js';

export interface Statement {
  readonly sql: string;
  readonly params: unknown[];
}

/** The rows a batch inserts, column by column. */
export interface MessageColumns {
  readonly streamIds: string[];
  readonly seqs: number[];
  readonly uuidKeys: string[];
  readonly createdAt: number[];
  readonly expiresAt: number[];
  readonly payloads: string[];
}

/** The statements of an append transaction, sized for one batch. */
export interface AppendStatements {
  /** Rows (stream_id, message_uuid, created_at) of the pairs (streamIds[i], uuidKeys[i]) already stored. */
  findStored(streamIds: readonly string[], uuidKeys: readonly string[]): Statement;
  /**
   * Rows (i, last_seq): the highest sequence of streamIds[i], null when the stream has none. Each MAX is one
   * index seek, where a GROUP BY would read every row of the stream on PostgreSQL and MariaDB.
   */
  lastSequences(streamIds: readonly string[]): Statement[];
  insert(columns: MessageColumns): Statement;
}

const COLUMNS = 'stream_id, seq, message_uuid, created_at, expires_at, payload';
/** SQLite allows 500 terms in a compound SELECT. */
const MAX_UNION_TERMS = 250;

/** Statements written out with one placeholder per value (SQLite, MySQL). */
export function placeholderStatements(param: (index: number) => string): AppendStatements {
  const tuples = (count: number, width: number): string => {
    const parts: string[] = new Array(count);
    for (let t = 0; t < count; t++) {
      const columns: string[] = new Array(width);
      for (let c = 0; c < width; c++) columns[c] = param(t * width + c);
      parts[t] = `(${columns.join(',')})`;
    }
    return parts.join(',');
  };
  return {
    findStored(streamIds, uuidKeys) {
      const params: unknown[] = new Array(streamIds.length * 2);
      for (let i = 0; i < streamIds.length; i++) {
        params[2 * i] = streamIds[i];
        params[2 * i + 1] = uuidKeys[i];
      }
      return {
        sql: `SELECT stream_id, message_uuid, created_at FROM ${MESSAGES_TABLE} WHERE (stream_id, message_uuid) IN (${tuples(streamIds.length, 2)})`,
        params,
      };
    },
    lastSequences(streamIds) {
      const statements: Statement[] = [];
      for (let start = 0; start < streamIds.length; start += MAX_UNION_TERMS) {
        const chunk = streamIds.slice(start, start + MAX_UNION_TERMS);
        const selects = chunk.map((_, i) => `SELECT ${start + i} AS i, MAX(seq) AS last_seq FROM ${MESSAGES_TABLE} WHERE stream_id = ${param(i)}`);
        statements.push({ sql: selects.join(' UNION ALL '), params: chunk });
      }
      return statements;
    },
    insert(columns) {
      const count = columns.streamIds.length;
      const params: unknown[] = new Array(count * 6);
      for (let i = 0; i < count; i++) {
        params[6 * i] = columns.streamIds[i];
        params[6 * i + 1] = columns.seqs[i];
        params[6 * i + 2] = columns.uuidKeys[i];
        params[6 * i + 3] = columns.createdAt[i];
        params[6 * i + 4] = columns.expiresAt[i];
        params[6 * i + 5] = columns.payloads[i];
      }
      return { sql: `INSERT INTO ${MESSAGES_TABLE} (${COLUMNS}) VALUES ${tuples(count, 6)}`, params };
    },
  };
}

/**
 * PostgreSQL: whole columns as array parameters, so each statement's text is the same for every batch size
 * (a 64-term UNION costs PostgreSQL more to plan than to run).
 */
export const POSTGRES_ARRAY_STATEMENTS: AppendStatements = {
  findStored: (streamIds, uuidKeys) => ({
    sql:
      `SELECT m.stream_id, m.message_uuid, m.created_at FROM unnest($1::varchar[], $2::varchar[]) AS k(stream_id, message_uuid)` +
      ` JOIN ${MESSAGES_TABLE} m ON m.stream_id = k.stream_id AND m.message_uuid = k.message_uuid`,
    params: [streamIds, uuidKeys],
  }),
  lastSequences: (streamIds) => [
    {
      sql:
        `SELECT k.i - 1 AS i, (SELECT MAX(seq) FROM ${MESSAGES_TABLE} m WHERE m.stream_id = k.stream_id) AS last_seq` +
        ` FROM unnest($1::varchar[]) WITH ORDINALITY AS k(stream_id, i)`,
      params: [streamIds],
    },
  ],
  insert: (columns) => ({
    sql:
      `INSERT INTO ${MESSAGES_TABLE} (${COLUMNS})` +
      ` SELECT * FROM unnest($1::varchar[], $2::bigint[], $3::varchar[], $4::bigint[], $5::bigint[], $6::text[])`,
    params: [columns.streamIds, columns.seqs, columns.uuidKeys, columns.createdAt, columns.expiresAt, columns.payloads],
  }),
};
