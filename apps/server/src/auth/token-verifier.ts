import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, errors, jwtVerify, type JWSAlgorithm, type JWTVerifyGetKey } from 'jose';
import type { AppConfig } from '../config/index.js';
import { StreamScope } from './stream-scope.js';

/** What a verified token lets its bearer do, until `expiresAt` (epoch ms, the clock tolerance included). */
export interface Grant {
  readonly subject: string | undefined;
  readonly expiresAt: number;
  readonly send: StreamScope;
  readonly receive: StreamScope;
}

/** A token that does not verify; `message` is short, safe to show the client, and free of `"` and `\`. */
export class InvalidToken extends Error {
  override readonly name = 'InvalidToken';
}

/** The keys (JWKS) could not be fetched: not the token's fault, so not a 401. */
export class KeysUnavailable extends Error {
  override readonly name = 'KeysUnavailable';
}

const HMAC_ALGORITHMS: JWSAlgorithm[] = ['HS256', 'HS384', 'HS512'];
const RSA_ALGORITHMS: JWSAlgorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const EC_ALGORITHMS: Record<string, JWSAlgorithm> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };
const EDDSA_ALGORITHMS: JWSAlgorithm[] = ['EdDSA', 'Ed25519'];
const ASYMMETRIC_ALGORITHMS: JWSAlgorithm[] = [...RSA_ALGORITHMS, ...Object.values(EC_ALGORITHMS), ...EDDSA_ALGORITHMS];

/**
 * Verifies bearer tokens with `jose` against the one key source configured. The accepted algorithms follow the
 * key's type (an HMAC secret: HS*; an EC key: the ES* of its curve; ...), so `alg: none` and an HS token signed
 * with a public key as its secret (algorithm confusion) are refused. `exp` is required.
 */
export class TokenVerifier {
  private readonly key: Uint8Array | KeyObject | JWTVerifyGetKey;
  private readonly algorithms: JWSAlgorithm[];
  private readonly clockToleranceMs: number;

  /** `jwksCooldownMs`: after a fetch of the JWKS, how long a token with an unknown `kid` waits for the next. */
  constructor(
    private readonly config: AppConfig['auth']['jwt'],
    jwksCooldownMs = 30_000,
  ) {
    this.clockToleranceMs = config.clockToleranceSeconds * 1000;
    if (config.secret !== '') {
      this.key = new TextEncoder().encode(config.secret);
      this.algorithms = HMAC_ALGORITHMS;
    } else if (config.publicKeyFile !== undefined) {
      const key = createPublicKey(readFileSync(config.publicKeyFile, 'utf8'));
      this.key = key;
      this.algorithms = algorithmsFor(key, config.publicKeyFile);
    } else if (config.jwksUrl !== undefined) {
      // jose caches the set and fetches it again when a token names an unknown `kid` (at most every 30 s).
      this.key = createRemoteJWKSet(new URL(config.jwksUrl), { cooldownDuration: jwksCooldownMs });
      this.algorithms = ASYMMETRIC_ALGORITHMS;
    } else {
      throw new Error('auth.jwt has no key (secret, publicKeyFile or jwksUrl)');
    }
  }

  /** The token's grant; throws InvalidToken (a 401) or KeysUnavailable (a 503). */
  async verify(token: string): Promise<Grant> {
    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      const options = {
        algorithms: this.algorithms,
        issuer: this.config.issuer,
        audience: this.config.audience,
        clockTolerance: this.config.clockToleranceSeconds,
        requiredClaims: ['exp'],
      };
      // Two calls for the type checker: jose types a key and a key getter as different overloads.
      ({ payload } =
        typeof this.key === 'function'
          ? await jwtVerify(token, this.key, options)
          : await jwtVerify(token, this.key, options));
    } catch (err) {
      throw describeFailure(err);
    }
    const claim = payload.ipubsub;
    if (claim !== undefined && (typeof claim !== 'object' || claim === null || Array.isArray(claim)))
      throw new InvalidToken('claim ipubsub must be an object with send and receive lists');
    const scopes = (claim ?? {}) as { send?: unknown; receive?: unknown };
    try {
      return {
        subject: payload.sub,
        expiresAt: payload.exp! * 1000 + this.clockToleranceMs,
        send: StreamScope.parse(scopes.send, 'ipubsub.send'),
        receive: StreamScope.parse(scopes.receive, 'ipubsub.receive'),
      };
    } catch (err) {
      throw new InvalidToken((err as Error).message.replaceAll('"', "'"));
    }
  }
}

/** The algorithms a PEM public key may verify: only those of its type (and, for EC, of its curve). */
function algorithmsFor(key: KeyObject, file: string): JWSAlgorithm[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return RSA_ALGORITHMS;
    case 'rsa-pss':
      return RSA_ALGORITHMS.filter((alg) => alg.startsWith('PS'));
    case 'ec': {
      const alg = EC_ALGORITHMS[key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (alg !== undefined) return [alg];
      break;
    }
    case 'ed25519':
      return EDDSA_ALGORITHMS;
    default:
      // dsa, ed448, x25519, x448: no JWS algorithm jose verifies with them.
      break;
  }
  throw new Error(`auth.jwt.publicKeyFile ${file}: unsupported key type ${key.asymmetricKeyType}`);
}

/** jose's error as the short reason a client is told (in WWW-Authenticate, so without quotes). */
function describeFailure(err: unknown): Error {
  if (err instanceof errors.JWTExpired) return new InvalidToken('token expired');
  if (err instanceof errors.JWTClaimValidationFailed)
    return new InvalidToken(`claim ${err.claim} ${err.reason === 'missing' ? 'missing' : 'check failed'}`);
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported)
    return new InvalidToken('algorithm not allowed');
  if (err instanceof errors.JWSSignatureVerificationFailed) return new InvalidToken('signature verification failed');
  if (err instanceof errors.JWKSNoMatchingKey) return new InvalidToken('no signing key matches the token');
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid)
    return new KeysUnavailable('the signing keys (auth.jwt.jwksUrl) could not be fetched');
  if (err instanceof errors.JOSEError) return new InvalidToken('malformed token');
  // fetch() failing to reach the JWKS URL, or a key the token's header does not fit.
  if (err instanceof TypeError && (err as { cause?: unknown }).cause !== undefined)
    return new KeysUnavailable('the signing keys (auth.jwt.jwksUrl) could not be fetched');
  return new InvalidToken('malformed token');
}
