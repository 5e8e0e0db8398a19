/** The messages table of the SQL stores. */
export const MESSAGES_TABLE = 'ipubsub_messages';
/**
 * The high-water mark of streams whose newest row was purged: the sequence of that row, so the stream's next
 * message is numbered after it (see sql-message-store.ts, purgeExpired).
 */
export const HIGH_WATER_TABLE = 'ipubsub_high_water';
