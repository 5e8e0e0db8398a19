/**
 * The wire format between the nodes of a cluster: gossip datagrams (SWIM membership), hand-off of in-memory streams
 * and copies of stored messages on a node-local store. Internal to the server (exported from `@ipubsub/sdk/wire` as `NodeWire`, beside the client
 * schemas, so that every wire schema is in one place); a receiving node checks each body against these. Schemas
 * end in `Schema` and their types do not: a namespace's declarations lose a value that shares a type's name.
 */
import { Type, type Static } from '@sinclair/typebox';
import { MessageUuid, StreamId } from './wire-ids.js';

export const PULL_PATH = '/internal/v1/cluster/pull';
export const ADOPT_PATH = '/internal/v1/cluster/adopt';
export const RETURN_PATH = '/internal/v1/cluster/return';
export const STORED_PULL_PATH = '/internal/v1/cluster/stored-pull';
export const STORED_KEEP_PATH = '/internal/v1/cluster/stored-keep';

/** A member as node-to-node calls carry it (the caller introducing itself, or a leaving node saying it left). */
export const MemberUpdateSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  gossip: Type.String({ minLength: 1, maxLength: 512 }),
  http: Type.String({ minLength: 1, maxLength: 512 }),
  state: Type.Union([Type.Literal('alive'), Type.Literal('suspect'), Type.Literal('dead'), Type.Literal('left')]),
  incarnation: Type.Integer({ minimum: 0 }),
});

/** An in-memory message on its way to a stream's next owner. */
export const StreamMessageSchema = Type.Object({
  messageUuid: MessageUuid,
  message: Type.Unknown(),
  timestamp: Type.Number(),
  // Optional: a node of an earlier version sends none, and a forwarding node giving messages back does not know it.
  bytes: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type StreamMessage = Static<typeof StreamMessageSchema>;

/** A stream handed over: its buffered messages in order and its dedup memory. */
export const StreamSnapshotSchema = Type.Object({
  streamId: StreamId,
  capacity: Type.Integer({ minimum: -1 }),
  messages: Type.Array(StreamMessageSchema),
  recentUuids: Type.Array(MessageUuid),
  // Optional: a node of an earlier version hands its streams over without them.
  recentTimestamps: Type.Optional(Type.Array(Type.Number())),
});
export type StreamSnapshot = Static<typeof StreamSnapshotSchema>;

/** PULL_PATH: a node that now owns streams asks a member to push them to it. */
export const PullRequestSchema = Type.Object({ member: MemberUpdateSchema });
export type PullRequest = Static<typeof PullRequestSchema>;
export const PullAnswerSchema = Type.Object({
  streams: Type.Integer({ minimum: 0 }),
  messages: Type.Integer({ minimum: 0 }),
});
export type PullAnswer = Static<typeof PullAnswerSchema>;

/** ADOPT_PATH: streams pushed to their new owner, in requests of bounded size. */
export const AdoptRequestSchema = Type.Object({
  snapshots: Type.Array(StreamSnapshotSchema),
  /** On the last request of a leaving node's hand-off: the node itself, now `left`. */
  leaving: Type.Optional(MemberUpdateSchema),
});
export type AdoptRequest = Static<typeof AdoptRequestSchema>;

/** RETURN_PATH: messages a forwarding node took for a client that had gone, back to the head of the stream. */
export const ReturnRequestSchema = Type.Object({ streamId: StreamId, messages: Type.Array(StreamMessageSchema) });
export type ReturnRequest = Static<typeof ReturnRequestSchema>;

/** Where a listing of stored messages goes on: after this message of this stream. */
export const HeldKeySchema = Type.Object({ streamId: StreamId, seq: Type.Integer({ minimum: 0 }) });
export type HeldKey = Static<typeof HeldKeySchema>;

/** A stored message copied between the files of a node-local store's nodes, keeping its sequence. */
export const HeldMessageSchema = Type.Object({
  streamId: StreamId,
  seq: Type.Integer({ minimum: 0 }),
  messageUuid: MessageUuid,
  messageJson: Type.String(),
  timestamp: Type.Number(),
  expiresAt: Type.Number(),
});
export type HeldMessage = Static<typeof HeldMessageSchema>;

/** STORED_PULL_PATH: a node that has become home to streams asks a member for its copies, page by page. */
export const StoredPullRequestSchema = Type.Object({
  member: MemberUpdateSchema,
  after: Type.Union([HeldKeySchema, Type.Null()]),
});
export type StoredPullRequest = Static<typeof StoredPullRequestSchema>;
export const StoredPullAnswerSchema = Type.Object({
  messages: Type.Array(HeldMessageSchema),
  /** High-water marks of the page's streams. */
  marks: Type.Array(HeldKeySchema),
  /** Where the next page starts; null when the member has nothing more. */
  next: Type.Union([HeldKeySchema, Type.Null()]),
});
export type StoredPullAnswer = Static<typeof StoredPullAnswerSchema>;

/** STORED_KEEP_PATH: a leaving node sends the stored messages of its streams to their next homes. */
export const StoredKeepRequestSchema = Type.Object({
  messages: Type.Array(HeldMessageSchema),
  marks: Type.Array(HeldKeySchema),
});
export type StoredKeepRequest = Static<typeof StoredKeepRequestSchema>;

/** Who sends a gossip datagram: messages of another `cluster.name` are refused. */
const GossipEnvelope = { cluster: Type.String(), from: Type.String() };
const Seq = Type.Integer({ minimum: 0 });

/** A SWIM gossip datagram (UDP); failure detection messages carry piggybacked member updates. */
export const GossipMessageSchema = Type.Union([
  Type.Object({ type: Type.Literal('ping'), ...GossipEnvelope, seq: Seq, updates: Type.Array(MemberUpdateSchema) }),
  Type.Object({ type: Type.Literal('ack'), ...GossipEnvelope, seq: Seq, updates: Type.Array(MemberUpdateSchema) }),
  Type.Object({
    type: Type.Literal('ping-req'),
    ...GossipEnvelope,
    seq: Seq,
    target: Type.String(),
    targetAddress: Type.String(),
    updates: Type.Array(MemberUpdateSchema),
  }),
  /** Full-state exchange: joining through a seed, periodic anti-entropy, and re-contacting dead members. */
  Type.Object({
    type: Type.Literal('sync'),
    ...GossipEnvelope,
    members: Type.Array(MemberUpdateSchema),
    wantReply: Type.Boolean(),
  }),
  /** Answer to a sync from a node of another cluster. */
  Type.Object({ type: Type.Literal('refuse'), ...GossipEnvelope, reason: Type.String() }),
]);
export type GossipMessage = Static<typeof GossipMessageSchema>;
