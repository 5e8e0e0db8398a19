import { Type } from '@sinclair/typebox';

/** A MemberUpdate as node-to-node HTTP calls carry it (the caller introducing itself). */
export const MemberUpdateSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  gossip: Type.String({ minLength: 1, maxLength: 512 }),
  http: Type.String({ minLength: 1, maxLength: 512 }),
  state: Type.Union([Type.Literal('alive'), Type.Literal('suspect'), Type.Literal('dead'), Type.Literal('left')]),
  incarnation: Type.Integer({ minimum: 0 }),
});
