/**
 * The wire format of iPubSub: every request and response body, defined once.
 *
 * The server validates and serializes with these JSON schemas; the SDK derives its types from them; the
 * API reference, docs/api.md, is generated from them (`pnpm --filter @ipubsub/sdk run api-reference`, checked
 * by a test). Only the server imports this module at run time (subpath `@ipubsub/sdk/wire`), so the SDK bundle
 * carries none of it. The calls between a cluster's nodes are here too, under `NodeWire` (node-wire.ts): internal
 * to the server, so neither the SDK's types nor docs/api.md list them.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULTS } from './defaults.js';
import { MessageUuid, STREAM_ID_PATTERN, StreamId } from './wire-ids.js';

export { DEFAULTS };

export { MessageUuid, STREAM_ID_PATTERN, StreamId };

/** Any JSON value: object, array, string, number, boolean or null. */
export const MessageBody = Type.Unknown({ description: 'any JSON value' });

export const SendRequest = Type.Object(
  {
    streamId: StreamId,
    messageUuid: MessageUuid,
    message: MessageBody,
    inMemoryStreamSize: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: DEFAULTS.inMemoryStreamSize,
        description: 'capacity of the in-memory buffer, set when the stream is created; 0: sync match',
      }),
    ),
    blockingSendTimeoutSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: DEFAULTS.blockingSendTimeoutSeconds,
        description:
          '0: circular buffer, drops the oldest; > 0: wait up to this long for space (or a receiver), then 424',
      }),
    ),
    writeToDB: Type.Optional(
      Type.Boolean({ default: false, description: 'persist in the message store; answered once stored durably' }),
    ),
    dbTTLSeconds: Type.Optional(
      Type.Integer({ minimum: 1, default: DEFAULTS.dbTTLSeconds, description: 'time to live of the stored message' }),
    ),
  },
  { additionalProperties: false },
);
export type SendRequest = Static<typeof SendRequest>;

export const SendResponse = Type.Object(
  {
    messageUuid: Type.String(),
    timestamp: Type.String({ description: 'ISO-8601 UTC, set by the owner on arrival' }),
    duplicate: Type.Optional(Type.Boolean({ description: 'true when this messageUuid was already accepted' })),
  },
  {},
);
export type SendResponse = Static<typeof SendResponse>;

export const ReceiveQuery = Type.Object(
  {
    streamId: StreamId,
    timeoutSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: DEFAULTS.timeoutSeconds,
        description: 'longest wait for a message (long poll); 0: answer at once',
      }),
    ),
    readFromDB: Type.Optional(
      Type.Boolean({ default: false, description: 'read the message store without consuming (replay, fan-out)' }),
    ),
    dbResumeToken: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1024, description: 'read the stored messages after this position' }),
    ),
    maxMessages: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, description: 'answer a batch of up to this many messages' }),
    ),
  },
  { additionalProperties: false },
);
export type ReceiveQuery = Static<typeof ReceiveQuery>;

/**
 * Query of `GET /api/v1/streams/events`, a live tail of a stored stream as Server-Sent Events. Where it starts:
 * the `Last-Event-ID` header (a reconnecting EventSource), else `dbResumeToken`, else `from`.
 */
export const EventsQuery = Type.Object(
  {
    streamId: StreamId,
    dbResumeToken: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1024, description: 'start after this position in the store' }),
    ),
    from: Type.Optional(
      Type.Union([Type.Literal('oldest'), Type.Literal('now')], {
        default: 'oldest',
        description: 'without a token: replay from the oldest retained message, or only what is stored from now on',
      }),
    ),
    access_token: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'bearer token for clients that cannot set headers (EventSource); prefer Authorization',
      }),
    ),
  },
  { additionalProperties: false },
);
export type EventsQuery = Static<typeof EventsQuery>;

/** `data:` of each message event of the live tail; its `id:` is the resume token after the message. */
export const StreamEvent = Type.Object(
  {
    messageUuid: Type.String(),
    message: MessageBody,
    timestamp: Type.String(),
  },
  {},
);
export type StreamEvent<T = unknown> = Omit<Static<typeof StreamEvent>, 'message'> & { message: T };

/** Why a stored read could not continue exactly where its token pointed. */
export const Gap = Type.Object({
  reason: Type.Union([Type.Literal('expired')], {
    description: 'expired: messages after the token were removed by TTL or purge before this read',
  }),
});
export type Gap = Static<typeof Gap>;

export const ReceivedMessage = Type.Object(
  {
    messageUuid: Type.String(),
    message: MessageBody,
    timestamp: Type.String(),
    dbResumeToken: Type.Optional(Type.String({ description: 'position after this message in the store' })),
    gap: Type.Optional(Gap),
  },
  {},
);
export type ReceivedMessage<T = unknown> = Omit<Static<typeof ReceivedMessage>, 'message'> & { message: T };

/** Answer to a receive with `maxMessages`: up to that many messages, oldest first. */
export const ReceivedBatch = Type.Object(
  {
    messages: Type.Array(ReceivedMessage),
    dbResumeToken: Type.Optional(Type.String()),
    gap: Type.Optional(Gap),
  },
  {},
);
export type ReceivedBatch<T = unknown> = Omit<Static<typeof ReceivedBatch>, 'messages'> & {
  messages: ReceivedMessage<T>[];
};

/** Every stable error code, with the HTTP status it is sent with. */
export const ERROR_STATUS = {
  INVALID_REQUEST: 400,
  INVALID_RESUME_TOKEN: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  REQUEST_TIMEOUT: 408,
  UNSUPPORTED_MEDIA_TYPE: 415,
  REQUEST_HEADERS_TOO_LARGE: 431,
  SEND_TIMEOUT: 424,
  NO_MESSAGE: 424,
  TOO_MANY_WAITERS: 429,
  TOO_MANY_STREAMS: 429,
  INTERNAL: 500,
  STORE_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  MEMORY_FULL: 503,
  OWNER_UNAVAILABLE: 503,
  AUTH_UNAVAILABLE: 503,
  NOT_READY: 503,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

export const ErrorResponse = Type.Object(
  {
    error: Type.String({ description: 'what went wrong, for a person' }),
    code: Type.String({ description: 'stable machine-readable code' }),
  },
  {},
);
export interface ErrorResponse {
  error: string;
  code: ErrorCode;
}

export { hashString, Rendezvous, RING_HASH, RING_VERSION_HEADER } from './ring.js';

/** How a client routes each request straight to its stream's owner: part of `GET /api/v1/cluster`. */
export const ClusterRouting = Type.Object(
  {
    hash: Type.String({ description: 'the owner function; the SDK routes directly only when it knows this one' }),
    version: Type.String({
      description: 'changes with the members or their URLs; answers carry it in the ipubsub-ring-version header',
    }),
    members: Type.Array(
      Type.Object({
        name: Type.String(),
        url: Type.String({ description: "the member's advertised HTTP base URL" }),
      }),
    ),
  },
  {},
);
export type ClusterRouting = Static<typeof ClusterRouting>;

/** The node-to-node calls of a cluster (hand-off, stored copies): internal to the server, not for clients. */
export * as NodeWire from './node-wire.js';
