import { ReceivedBatch, ReceivedMessage } from '@ipubsub/sdk/wire';
import fastJson from 'fast-json-stringify';

/** Receive answers one message or a batch; each shape gets its own compiled serializer from the wire schema. */
export const serializeMessage = fastJson(ReceivedMessage);
export const serializeBatch = fastJson(ReceivedBatch);
