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
  /**
   * Where the database can do it all in one statement: insert the batch's messages not stored yet (the first
   * of each id), numbered after their stream's last sequence or from `freshBase`, and return the rows
   * (stream_id, message_uuid, created_at) of those already stored. One round trip instead of four.
   */
  readonly appendInOne?: (columns: Omit<MessageColumns, 'seqs'>, freshBase: number) => Statement;
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
  // The data-modifying CTE runs to completion although the final SELECT does not read it. Its MAX sees the
  // table as it was when the statement started, so the batch's own rows do not count.
  appendInOne: (columns, freshBase) => ({
    sql: `WITH batch AS (
      SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::bigint[], $4::bigint[], $5::text[])
        WITH ORDINALITY AS b(stream_id, message_uuid, created_at, expires_at, payload, ord)
    ), stored AS (
      SELECT m.stream_id, m.message_uuid, m.created_at FROM ${MESSAGES_TABLE} m
        JOIN (SELECT DISTINCT stream_id, message_uuid FROM batch) k ON m.stream_id = k.stream_id AND m.message_uuid = k.message_uuid
    ), fresh AS (
      SELECT DISTINCT ON (b.stream_id, b.message_uuid) b.* FROM batch b
        WHERE NOT EXISTS (SELECT 1 FROM stored s WHERE s.stream_id = b.stream_id AND s.message_uuid = b.message_uuid)
        ORDER BY b.stream_id, b.message_uuid, b.ord
    ), inserted AS (
      INSERT INTO ${MESSAGES_TABLE} (${COLUMNS})
        SELECT f.stream_id,
          COALESCE((SELECT MAX(m.seq) FROM ${MESSAGES_TABLE} m WHERE m.stream_id = f.stream_id), $6::bigint - 1)
            + ROW_NUMBER() OVER (PARTITION BY f.stream_id ORDER BY f.ord),
          f.message_uuid, f.created_at, f.expires_at, f.payload
        FROM fresh f
    )
    SELECT stream_id, message_uuid, created_at FROM stored`,
    params: [columns.streamIds, columns.uuidKeys, columns.createdAt, columns.expiresAt, columns.payloads, freshBase],
  }),
};
