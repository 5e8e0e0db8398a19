import { InvalidPositionError, type StorePosition } from '../message-store.js';

/** Where a message sits: its stream's bucket, its sequence in the stream, and the writer that stored it. */
export interface CassandraPosition {
  readonly bucket: number;
  readonly seq: number;
  readonly writer: number;
}

/** First byte of every Cassandra position, so another adapter's bytes of the same length are refused too. */
const FORMAT = 0xca;
const LENGTH = 21;

export function encodePosition(bucket: number, seq: number, writer: number): StorePosition {
  const bytes = Buffer.allocUnsafe(LENGTH);
  bytes[0] = FORMAT;
  bytes.writeBigInt64BE(BigInt(bucket), 1);
  bytes.writeBigInt64BE(BigInt(seq), 9);
  bytes.writeInt32BE(writer, 17);
  return bytes;
}

export function decodePosition(bytes: StorePosition): CassandraPosition {
  if (bytes.length !== LENGTH || bytes[0] !== FORMAT) throw new InvalidPositionError('not a Cassandra store position');
  const bucket = Number(bytes.readBigInt64BE(1));
  const seq = Number(bytes.readBigInt64BE(9));
  if (!Number.isSafeInteger(bucket) || !Number.isSafeInteger(seq))
    throw new InvalidPositionError('not a Cassandra store position');
  return { bucket, seq, writer: bytes.readInt32BE(17) };
}
