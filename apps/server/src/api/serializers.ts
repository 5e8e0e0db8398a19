import { ReceivedBatch, ReceivedMessage } from '@ipubsub/sdk/wire';
import type { Static } from '@sinclair/typebox';
import fastJson from 'fast-json-stringify';

// fast-json-stringify types its serializers `(doc: any) => any`; these say what goes in and what comes out.
/** Receive answers one message or a batch; each shape gets its own compiled serializer from the wire schema. */
export const serializeMessage = fastJson(ReceivedMessage) as (message: Static<typeof ReceivedMessage>) => string;
export const serializeBatch = fastJson(ReceivedBatch) as (batch: Static<typeof ReceivedBatch>) => string;
