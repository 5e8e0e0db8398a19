/** The one table of the SQL stores. */
export const MESSAGES_TABLE = 'ipubsub_messages';
