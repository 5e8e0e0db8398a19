import type { Statement } from './append-statements.js';
import { HIGH_WATER_TABLE, MESSAGES_TABLE } from './table.js';

/**
 * How expired rows are deleted without letting a stream reuse a sequence. A stream numbers its next message
 * after the greater of its newest row and its high-water mark, so a purge that deletes a stream's newest row
 * first raises the stream's mark to it, in the same transaction. Marks are written only here: appends read
 * them (one index probe per stream, in a table holding only recently purged streams) but never write them.
 */
export interface PurgeStatements {
  /**
   * Rows (stream_id, seq, last_seq, marked) of up to `limit` messages expired at `now`, earliest expiry first,
   * each with its stream's highest sequence and high-water mark (null when it has none).
   */
  expired(now: number, limit: number): Statement;
  /** Raises the high-water mark of each streamIds[i] (distinct) to seqs[i]; never lowers one. */
  raiseMarks(streamIds: readonly string[], seqs: readonly number[]): Statement;
  /** Deletes the rows (streamIds[i], seqs[i]). */
  deleteRows(streamIds: readonly string[], seqs: readonly number[]): Statement;
  /**
   * Deletes up to `limit` marks below `below` whose stream has no row under its mark: its next message is
   * numbered after its newer rows, or restarts from the clock above `below`.
   */
  forgetMarks(below: number, limit: number): Statement;
}

/** The newest row by ORDER BY … LIMIT 1: MariaDB reads a whole stream for a correlated MAX. */
function expiredSql(p: (index: number) => string): string {
  return `SELECT e.stream_id, e.seq,
      (SELECT m.seq FROM ${MESSAGES_TABLE} m WHERE m.stream_id = e.stream_id ORDER BY m.seq DESC LIMIT 1) AS last_seq,
      (SELECT h.last_seq FROM ${HIGH_WATER_TABLE} h WHERE h.stream_id = e.stream_id) AS marked
    FROM (SELECT stream_id, seq FROM ${MESSAGES_TABLE} WHERE expires_at <= ${p(0)} ORDER BY expires_at LIMIT ${p(1)}) e`;
}

/** Marks (aliased h) below the first parameter that no longer hold back a row of their stream. */
function forgettableSql(p: (index: number) => string, mark: string): string {
  return `${mark}.last_seq < ${p(0)}
    AND NOT EXISTS (SELECT 1 FROM ${MESSAGES_TABLE} m WHERE m.stream_id = ${mark}.stream_id AND m.seq < ${mark}.last_seq)`;
}

const questionMark = (): string => '?';
const dollar = (index: number): string => `$${index + 1}`;

/** Pairs of a batch as one JSON parameter, read with json_each: the statement's text is the same for any size. */
const jsonPairs = (streamIds: readonly string[], seqs: readonly number[]): string =>
  JSON.stringify(streamIds.map((id, i) => [id, seqs[i]]));

export const SQLITE_PURGE: PurgeStatements = {
  expired: (now, limit) => ({ sql: expiredSql(questionMark), params: [now, limit] }),
  raiseMarks: (streamIds, seqs) => ({
    // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join.
    sql: `INSERT INTO ${HIGH_WATER_TABLE} (stream_id, last_seq) SELECT value ->> 0, value ->> 1 FROM json_each(?) WHERE true
      ON CONFLICT (stream_id) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)`,
    params: [jsonPairs(streamIds, seqs)],
  }),
  deleteRows: (streamIds, seqs) => ({
    sql: `DELETE FROM ${MESSAGES_TABLE} WHERE rowid IN (SELECT m.rowid FROM json_each(?) d
      JOIN ${MESSAGES_TABLE} m ON m.stream_id = d.value ->> 0 AND m.seq = d.value ->> 1)`,
    params: [jsonPairs(streamIds, seqs)],
  }),
  forgetMarks: (below, limit) => ({
    sql: `DELETE FROM ${HIGH_WATER_TABLE} WHERE rowid IN
      (SELECT h.rowid FROM ${HIGH_WATER_TABLE} h WHERE ${forgettableSql(questionMark, 'h')} LIMIT ?)`,
    params: [below, limit],
  }),
};

export const POSTGRES_PURGE: PurgeStatements = {
  expired: (now, limit) => ({ sql: expiredSql(dollar), params: [now, limit] }),
  raiseMarks: (streamIds, seqs) => ({
    sql: `INSERT INTO ${HIGH_WATER_TABLE} AS h (stream_id, last_seq) SELECT * FROM unnest($1::varchar[], $2::bigint[])
      ON CONFLICT (stream_id) DO UPDATE SET last_seq = GREATEST(h.last_seq, EXCLUDED.last_seq)`,
    params: [streamIds, seqs],
  }),
  deleteRows: (streamIds, seqs) => ({
    sql: `DELETE FROM ${MESSAGES_TABLE} m USING unnest($1::varchar[], $2::bigint[]) AS d(stream_id, seq)
      WHERE m.stream_id = d.stream_id AND m.seq = d.seq`,
    params: [streamIds, seqs],
  }),
  forgetMarks: (below, limit) => ({
    sql: `DELETE FROM ${HIGH_WATER_TABLE} WHERE ctid = ANY (ARRAY(
      SELECT h.ctid FROM ${HIGH_WATER_TABLE} h WHERE ${forgettableSql(dollar, 'h')} LIMIT $2))`,
    params: [below, limit],
  }),
};

/** `(?,?),(?,?)…`: one pair of placeholders per row. */
const pairs = (count: number): string => new Array(count).fill('(?,?)').join(',');

export const MYSQL_PURGE: PurgeStatements = {
  expired: (now, limit) => ({ sql: expiredSql(questionMark), params: [now, limit] }),
  raiseMarks: (streamIds, seqs) => ({
    sql: `INSERT INTO ${HIGH_WATER_TABLE} (stream_id, last_seq) VALUES ${pairs(streamIds.length)}
      ON DUPLICATE KEY UPDATE last_seq = GREATEST(last_seq, VALUES(last_seq))`,
    params: streamIds.flatMap((streamId, i) => [streamId, seqs[i]]),
  }),
  deleteRows: (streamIds, seqs) => ({
    sql: `DELETE FROM ${MESSAGES_TABLE} WHERE (stream_id, seq) IN (${pairs(streamIds.length)})`,
    params: streamIds.flatMap((streamId, i) => [streamId, seqs[i]]),
  }),
  forgetMarks: (below, limit) => ({
    sql: `DELETE FROM ${HIGH_WATER_TABLE} WHERE ${forgettableSql(questionMark, HIGH_WATER_TABLE)} ORDER BY last_seq LIMIT ?`,
    params: [below, limit],
  }),
};
