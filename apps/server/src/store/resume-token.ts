import { createHmac, timingSafeEqual } from 'node:crypto';
import type { StorePosition } from './message-store.js';

/** Envelope format; a reader holding a token of another version gets a 400, never a wrong read. */
const VERSION = 1;
const MAC_BYTES = 16;

/**
 * Resume tokens: `base64url(version ‖ position ‖ mac)`, where the position is the adapter's opaque bytes and
 * the mac is HMAC-SHA256 over version, stream id and position, cut to 128 bits. Binding the stream id makes a
 * token of another stream as invalid as a tampered one.
 */
export class ResumeTokens {
  constructor(private readonly secret: string) {}

  issue(streamId: string, position: StorePosition): string {
    const token = Buffer.allocUnsafe(1 + position.length + MAC_BYTES);
    token[0] = VERSION;
    position.copy(token, 1);
    this.mac(streamId, token.subarray(0, 1 + position.length)).copy(token, 1 + position.length, 0, MAC_BYTES);
    return token.toString('base64url');
  }

  /** The position inside a token this node's secret issued for this stream; null when it is anything else. */
  open(streamId: string, token: string): StorePosition | null {
    const bytes = Buffer.from(token, 'base64url');
    // Decoding skips stray characters and unused bits; only the canonical spelling of a token is accepted.
    if (bytes.toString('base64url') !== token) return null;
    if (bytes.length <= 1 + MAC_BYTES || bytes[0] !== VERSION) return null;
    const signed = bytes.subarray(0, bytes.length - MAC_BYTES);
    const expected = this.mac(streamId, signed).subarray(0, MAC_BYTES);
    if (!timingSafeEqual(expected, bytes.subarray(bytes.length - MAC_BYTES))) return null;
    return Buffer.from(signed.subarray(1));
  }

  private mac(streamId: string, versionAndPosition: Buffer): Buffer {
    // The stream id goes first with its length, so (stream, position) pairs cannot be confused.
    return createHmac('sha256', this.secret)
      .update(`${streamId.length}:${streamId}`)
      .update(versionAndPosition)
      .digest();
  }
}
