import type { DataSource } from 'typeorm';
import type { HeldKey, HeldMessage, MessageCopies } from '../message-store.js';
import { decodeUuid, encodeUuid } from '../message-uuid-key.js';
import type { Statement } from './append-statements.js';
import { SQLITE_PURGE } from './purge-statements.js';
import type { SqlWriter } from './sql-writers.js';
import { HIGH_WATER_TABLE, MESSAGES_TABLE } from './table.js';

const COLUMNS = 'stream_id, seq, message_uuid, created_at, expires_at, payload';

/** Without row values, so the listing reads the (stream_id, seq) primary key in order from `after` on. */
const LIST_SQL =
  `SELECT ${COLUMNS} FROM ${MESSAGES_TABLE} WHERE stream_id > ? OR (stream_id = ? AND seq > ?)` +
  ` ORDER BY stream_id, seq LIMIT ?`;

/** One copy, unless its stream already holds its position or its id; a row back when it was new. */
const KEEP_SQL = `INSERT OR IGNORE INTO ${MESSAGES_TABLE} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq`;

/**
 * The embedded store's copies (MessageCopies): listed on the reading connection, kept through the writer, in one
 * transaction per call. The unique (stream_id, seq) and (stream_id, message_uuid) indexes make a copy of a message
 * already held a no-op.
 */
export class SqliteCopies implements MessageCopies {
  constructor(
    private readonly dataSource: DataSource,
    private readonly writer: SqlWriter,
  ) {}

  async list(after: HeldKey | null, limit: number): Promise<HeldMessage[]> {
    const streamId = after?.streamId ?? '';
    const rows: Record<string, unknown>[] = await this.dataSource.query(LIST_SQL, [
      streamId,
      streamId,
      after?.seq ?? -1,
      limit,
    ]);
    return rows.map((row) => ({
      streamId: String(row.stream_id),
      seq: Number(row.seq),
      messageUuid: decodeUuid(String(row.message_uuid)),
      timestamp: Number(row.created_at),
      expiresAt: Number(row.expires_at),
      messageJson: String(row.payload),
    }));
  }

  async marks(streamIds: readonly string[]): Promise<HeldKey[]> {
    if (streamIds.length === 0) return [];
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT stream_id, last_seq FROM ${HIGH_WATER_TABLE} WHERE stream_id IN (SELECT value FROM json_each(?))`,
      [JSON.stringify(streamIds)],
    );
    return rows.map((row) => ({ streamId: String(row.stream_id), seq: Number(row.last_seq) }));
  }

  async keep(messages: readonly HeldMessage[], marks: readonly HeldKey[]): Promise<number> {
    const raise: Statement[] =
      marks.length === 0
        ? []
        : [
            SQLITE_PURGE.raiseMarks(
              marks.map((mark) => mark.streamId),
              marks.map((mark) => mark.seq),
            ),
          ];
    if (messages.length === 0) {
      if (raise.length > 0) await this.writer.atomically(raise);
      return 0;
    }
    const paramRows = messages.map((m) => [
      m.streamId,
      m.seq,
      encodeUuid(m.messageUuid),
      m.timestamp,
      m.expiresAt,
      m.messageJson,
    ]);
    const [kept] = await this.writer.atomically([{ sql: KEEP_SQL, paramRows }, ...raise]);
    return kept.length;
  }
}
