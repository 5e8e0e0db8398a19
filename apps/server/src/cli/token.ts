import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { SignJWT } from 'jose';

export interface MintOptions {
  sub?: string;
  send: string[];
  receive: string[];
  /** jose's time span: `90s`, `30m`, `1h`, `7d`. */
  ttl: string;
  /** PEM private key; without it the HMAC secret `secret` signs (HS256). */
  keyFile?: string;
  secret?: string;
  alg?: string;
  aud?: string;
  iss?: string;
}

/**
 * `ipubsub token --sub alice --send 'orders.*' --receive 'orders.*' --ttl 1h`: prints a token for a node with
 * `auth.mode: jwt`, signed with IPUBSUB_AUTH_JWT_SECRET (HS256) or the private key of `--key-file`.
 */
export function registerTokenCommand(program: Command): void {
  const collect = (value: string, previous: string[]): string[] => [...previous, value];
  program
    .command('token')
    .description('print a bearer token for auth.mode jwt (key: IPUBSUB_AUTH_JWT_SECRET or --key-file)')
    .option('--sub <subject>', 'who the token is for (the sub claim)')
    .option('--send <pattern>', 'stream the token may send to: an id or a prefix ending in * (repeatable)', collect, [])
    .option('--receive <pattern>', 'stream the token may receive from (repeatable)', collect, [])
    .option('--ttl <span>', 'lifetime: 90s, 30m, 1h, 7d', '1h')
    .option('--key-file <pem>', 'PEM private key (RSA, EC or Ed25519) instead of the HMAC secret')
    .option('--alg <alg>', 'signing algorithm (default: HS256, or the one of the key)')
    .option('--aud <audience>', 'aud claim (default: IPUBSUB_AUTH_JWT_AUDIENCE)', process.env.IPUBSUB_AUTH_JWT_AUDIENCE)
    .option('--iss <issuer>', 'iss claim (default: IPUBSUB_AUTH_JWT_ISSUER)', process.env.IPUBSUB_AUTH_JWT_ISSUER)
    .action(async (options: Omit<MintOptions, 'secret'>) => {
      const token = await mintToken({ ...options, secret: process.env.IPUBSUB_AUTH_JWT_SECRET });
      process.stdout.write(`${token}\n`);
    });
}

export async function mintToken(options: MintOptions): Promise<string> {
  const [key, alg] = signingKey(options);
  const jwt = new SignJWT({ ipubsub: { send: options.send, receive: options.receive } })
    .setProtectedHeader({ alg })
    .setIssuedAt();
  try {
    jwt.setExpirationTime(options.ttl);
  } catch {
    throw new InvalidArgumentError(`--ttl "${options.ttl}" is not a time span like 90s, 30m, 1h or 7d`);
  }
  if (options.sub !== undefined) jwt.setSubject(options.sub);
  if (options.aud !== undefined && options.aud !== '') jwt.setAudience(options.aud);
  if (options.iss !== undefined && options.iss !== '') jwt.setIssuer(options.iss);
  return jwt.sign(key);
}

const EC_ALGORITHMS: Record<string, string> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

function signingKey(options: MintOptions): [KeyObject | Uint8Array, string] {
  if (options.keyFile === undefined) {
    if (options.secret === undefined || options.secret === '')
      throw new InvalidArgumentError('set IPUBSUB_AUTH_JWT_SECRET (the node’s auth.jwt.secret) or pass --key-file');
    return [new TextEncoder().encode(options.secret), options.alg ?? 'HS256'];
  }
  const key = createPrivateKey(readFileSync(options.keyFile, 'utf8'));
  const alg =
    options.alg ??
    (key.asymmetricKeyType === 'rsa'
      ? 'RS256'
      : key.asymmetricKeyType === 'ec'
        ? EC_ALGORITHMS[key.asymmetricKeyDetails?.namedCurve ?? '']
        : key.asymmetricKeyType === 'ed25519'
          ? 'EdDSA'
          : undefined);
  if (alg === undefined) throw new InvalidArgumentError(`--key-file: pass --alg for a ${key.asymmetricKeyType} key`);
  return [key, alg];
}
