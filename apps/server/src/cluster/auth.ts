import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Header on every request one node sends another: how many nodes it has passed through. */
export const HOP_HEADER = 'x-ipubsub-hop';
/** `<epoch ms>.<base64url HMAC>` over the request line, hop count and time (and the body of internal calls). */
export const AUTH_HEADER = 'x-ipubsub-auth';
/**
 * On a forwarded stream request with `auth.mode: jwt`: the entry node's decision, `<send|receive> <streamId>`,
 * signed with the rest (the owner checks it names the request's own action and stream; see `forwardedGrant`).
 */
export const GRANT_HEADER = 'x-ipubsub-grant';

/** Forwarded requests older (or newer) than this are refused, which bounds how long a captured one replays. */
const MAX_CLOCK_SKEW_MS = 30_000;
const GOSSIP_MAC_BYTES = 16;

/**
 * HMAC-SHA256 with the cluster secret: signs gossip datagrams and node-to-node HTTP requests. With no secret
 * configured nothing is signed and everything is accepted (a trusted network).
 */
export class ClusterAuth {
  constructor(private readonly secret: string) {}

  get enabled(): boolean {
    return this.secret !== '';
  }

  /** MAC of a gossip datagram's payload (truncated to 16 bytes, ample against forgery). */
  datagramMac(payload: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(payload).digest().subarray(0, GOSSIP_MAC_BYTES);
  }

  get datagramMacBytes(): number {
    return GOSSIP_MAC_BYTES;
  }

  verifyDatagram(payload: Buffer, mac: Buffer): boolean {
    return mac.length === GOSSIP_MAC_BYTES && timingSafeEqual(this.datagramMac(payload), mac);
  }

  /** Value of the auth header for a request to another node; `body` only for internal calls, `grant` as GRANT_HEADER. */
  signRequest(
    method: string,
    url: string,
    hop: number,
    body: string | Buffer = '',
    now = Date.now(),
    grant = '',
  ): string {
    return `${now}.${this.requestMac(method, url, hop, body, now, grant)}`;
  }

  /** Null when the request is authentic, else why not (for the error message). */
  verifyRequest(
    header: string | string[] | undefined,
    method: string,
    url: string,
    hop: number,
    body = '',
    now = Date.now(),
    grant = '',
  ): string | null {
    if (typeof header !== 'string') return `missing ${AUTH_HEADER} header`;
    const dot = header.indexOf('.');
    const time = Number(header.slice(0, dot));
    if (dot <= 0 || !Number.isSafeInteger(time)) return `malformed ${AUTH_HEADER} header`;
    if (Math.abs(now - time) > MAX_CLOCK_SKEW_MS)
      return `${AUTH_HEADER} is too old or from the future (clock skew over 30 s)`;
    const expected = Buffer.from(this.requestMac(method, url, hop, body, time, grant));
    const given = Buffer.from(header.slice(dot + 1));
    return given.length === expected.length && timingSafeEqual(given, expected) ? null : 'cluster secret mismatch';
  }

  private requestMac(
    method: string,
    url: string,
    hop: number,
    body: string | Buffer,
    time: number,
    grant: string,
  ): string {
    const bodyDigest = body.length === 0 ? '' : createHash('sha256').update(body).digest('base64url');
    // Without a grant the signed text is as before, so members of the previous version still agree.
    const signed = `${method}\n${url}\n${hop}\n${time}\n${bodyDigest}`;
    return createHmac('sha256', this.secret)
      .update(grant === '' ? signed : `${signed}\n${grant}`)
      .digest('base64url');
  }
}

/** The GRANT_HEADER value of a stream request: what it does to which stream (a receive is a GET). */
export function forwardedGrant(method: string, streamId: string): string {
  return `${method === 'GET' ? 'receive' : 'send'} ${streamId}`;
}
