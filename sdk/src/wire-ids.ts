import { Type } from '@sinclair/typebox';

/** Shared by the client wire schemas (wire.ts) and the node-to-node ones (node-wire.ts). */
export const STREAM_ID_PATTERN = '^[A-Za-z0-9_.:@/-]{1,256}$';

export const StreamId = Type.String({
  pattern: STREAM_ID_PATTERN,
  description: '1–256 characters: letters, digits and -_.:@/',
});

export const MessageUuid = Type.String({
  minLength: 1,
  maxLength: 128,
  description: "the sender's id for this message; a retry with the same id on the same stream is not stored twice",
});
