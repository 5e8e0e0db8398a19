import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';

/** An HMAC key of the length the server asks for (32 characters at least). */
export const TEST_JWT_SECRET = 'e2e-jwt-secret-0123456789abcdefghijklmnop';

export interface Scopes {
  send?: string[];
  receive?: string[];
}

export interface TokenOptions {
  /** Seconds from now (negative: already expired); default one hour. */
  expiresIn?: number;
  audience?: string;
  issuer?: string;
  subject?: string;
}

/** A real token signed with `key`: HS256 for a secret, ES256 for an EC private key. */
export function signToken(
  key: string | KeyObject,
  scopes: Scopes | undefined,
  options: TokenOptions = {},
): Promise<string> {
  const jwt = new SignJWT(scopes === undefined ? {} : { ipubsub: scopes })
    .setProtectedHeader({ alg: typeof key === 'string' ? 'HS256' : 'ES256' })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresIn ?? 3600))
    .setSubject(options.subject ?? 'e2e');
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  return jwt.sign(typeof key === 'string' ? new TextEncoder().encode(key) : key);
}

/** A P-256 key pair: the private key signs ES256 tokens, the PEM goes to auth.jwt.publicKeyFile. */
export function es256KeyPair(): { privateKey: KeyObject; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** The `Authorization` header of a token. */
export const bearer = (token: string): { authorization: string } => ({ authorization: `Bearer ${token}` });
