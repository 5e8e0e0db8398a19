import { HIGH_WATER_TABLE, MESSAGES_TABLE } from './table.js';

export interface Statement {
  readonly sql: string;
  readonly params: unknown[];
}

/**
 * One statement run once per row of parameters, in order (rows read are concatenated, changes summed). On SQLite
 * a prepared statement per message costs less than one statement over the whole batch: no JSON to build and
 * parse, no window function, and each row sees the rows inserted before it.
 */
export interface RepeatedStatement {
  readonly sql: string;
  readonly paramRows: unknown[][];
}

/** A batch's messages, column by column. */
export interface MessageColumns {
  readonly streamIds: string[];
  readonly uuidKeys: string[];
  readonly createdAt: number[];
  readonly expiresAt: number[];
  readonly payloads: string[];
}

/**
 * How a batch is appended where the database numbers and deduplicates it: statements that, run together in
 * one transaction, insert the batch's messages not stored yet (the first of each id) numbered after their
 * stream's last sequence — the greater of its newest row and its high-water mark — (or from `freshBase` for a
 * stream with neither), the first of which returns the rows (stream_id, message_uuid, created_at) of those
 * already stored. One round trip, or one thread hop.
 */
export type AtomicAppend = (columns: MessageColumns, freshBase: number) => (Statement | RepeatedStatement)[];

/**
 * How a batch is appended where the store looks up, numbers, then inserts (MySQL): two round trips, no
 * transaction. The insert is one statement, atomic by itself; a writer that stored into one of the batch's
 * streams in between (another node, while a stream changes owner) makes it fail on a key, and the batch is
 * looked up again.
 */
export interface SteppedAppend {
  /**
   * Rows (stream_id, message_uuid, created_at) of the pairs (streamIds[i], uuidKeys[i]) already stored, and a
   * row (i, last_seq, marked) per distinctStreams[i]: its highest sequence and high-water mark, each null when
   * it has none (`i` tells the two kinds apart). One MAX per stream, each an index seek, where a GROUP BY would
   * read every row of the stream on MariaDB.
   */
  lookup(streamIds: readonly string[], uuidKeys: readonly string[], distinctStreams: readonly string[]): Statement;
  insert(columns: MessageColumns & { readonly seqs: number[] }): Statement;
}

const COLUMNS = 'stream_id, seq, message_uuid, created_at, expires_at, payload';

/** `(?,?),(?,?)…`: `count` tuples of `width` placeholders. */
function tuples(count: number, width: number): string {
  const tuple = `(${new Array(width).fill('?').join(',')})`;
  return new Array(count).fill(tuple).join(',');
}

export const MYSQL_APPEND: SteppedAppend = {
  lookup(streamIds, uuidKeys, distinctStreams) {
    const params: unknown[] = new Array(streamIds.length * 2);
    for (let i = 0; i < streamIds.length; i++) {
      params[2 * i] = streamIds[i];
      params[2 * i + 1] = uuidKeys[i];
    }
    const selects = [
      `SELECT NULL AS i, NULL AS last_seq, NULL AS marked, stream_id, message_uuid, created_at FROM ${MESSAGES_TABLE}` +
        ` WHERE (stream_id, message_uuid) IN (${tuples(streamIds.length, 2)})`,
    ];
    for (let i = 0; i < distinctStreams.length; i++) {
      selects.push(
        `SELECT ${i}, (SELECT MAX(seq) FROM ${MESSAGES_TABLE} WHERE stream_id = ?),` +
          ` (SELECT last_seq FROM ${HIGH_WATER_TABLE} WHERE stream_id = ?), NULL, NULL, NULL`,
      );
      params.push(distinctStreams[i], distinctStreams[i]);
    }
    return { sql: selects.join(' UNION ALL '), params };
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

/**
 * PostgreSQL: one statement over whole columns passed as arrays, so its text is the same for every batch. The
 * data-modifying CTE runs to completion although the final SELECT does not read it; its MAX sees the table as
 * it was when the statement started, so the batch's own rows do not count.
 */
export const POSTGRES_APPEND: AtomicAppend = (columns, freshBase) => [
  {
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
          COALESCE(GREATEST(
            (SELECT MAX(m.seq) FROM ${MESSAGES_TABLE} m WHERE m.stream_id = f.stream_id),
            (SELECT h.last_seq FROM ${HIGH_WATER_TABLE} h WHERE h.stream_id = f.stream_id)), $6::bigint - 1)
            + ROW_NUMBER() OVER (PARTITION BY f.stream_id ORDER BY f.ord),
          f.message_uuid, f.created_at, f.expires_at, f.payload
        FROM fresh f
    )
    SELECT stream_id, message_uuid, created_at FROM stored`,
    params: [columns.streamIds, columns.uuidKeys, columns.createdAt, columns.expiresAt, columns.payloads, freshBase],
  },
];

/** Messages of the stream with this id (SQLite: one index probe per message). */
const SQLITE_FIND_STORED = `SELECT stream_id, message_uuid, created_at FROM ${MESSAGES_TABLE} WHERE stream_id = ? AND message_uuid = ?`;

/**
 * One message, unless its stream holds its id (stored earlier, or earlier in this batch), numbered after its
 * stream's last sequence. Parameters: stream_id ×3, fresh base, message_uuid, created_at, expires_at, payload,
 * stream_id, message_uuid. Sequences are never negative: -1 stands for none in the two-argument max().
 */
const SQLITE_INSERT = `INSERT INTO ${MESSAGES_TABLE} (${COLUMNS})
  SELECT ?, COALESCE(NULLIF(max(
      COALESCE((SELECT MAX(seq) FROM ${MESSAGES_TABLE} WHERE stream_id = ?), -1),
      COALESCE((SELECT last_seq FROM ${HIGH_WATER_TABLE} WHERE stream_id = ?), -1)), -1), ? - 1) + 1,
    ?, ?, ?, ?
  WHERE NOT EXISTS (SELECT 1 FROM ${MESSAGES_TABLE} WHERE stream_id = ? AND message_uuid = ?)`;

/**
 * SQLite: the batch's ids looked up, then its messages inserted one by one, each statement prepared once and run
 * per message in the writer's thread, all in one hop.
 */
export const SQLITE_APPEND: AtomicAppend = (columns, freshBase) => {
  const { streamIds, uuidKeys } = columns;
  const find = new Array<unknown[]>(streamIds.length);
  const insert = new Array<unknown[]>(streamIds.length);
  for (let i = 0; i < streamIds.length; i++) {
    const streamId = streamIds[i];
    find[i] = [streamId, uuidKeys[i]];
    insert[i] = [
      streamId,
      streamId,
      streamId,
      freshBase,
      uuidKeys[i],
      columns.createdAt[i],
      columns.expiresAt[i],
      columns.payloads[i],
      streamId,
      uuidKeys[i],
    ];
  }
  return [
    { sql: SQLITE_FIND_STORED, paramRows: find },
    { sql: SQLITE_INSERT, paramRows: insert },
  ];
};
