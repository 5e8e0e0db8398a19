import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request, type Agent } from 'node:https';
import { join } from 'node:path';

export interface TestCertificates {
  /** PEM of the private CA that signed the server certificates. */
  readonly caFile: string;
  readonly ca: string;
  /** Two certificates for 127.0.0.1 and localhost with their keys: the first served, the second rotated in. */
  readonly servers: readonly { certFile: string; keyFile: string }[];
}

const openssl = (args: string[], cwd: string): void => {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
};

/** A private CA and two server certificates signed by it, made with Debian's openssl in `dir`. */
export function makeCertificates(dir: string): TestCertificates {
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2'].concat([
      '-subj',
      '/CN=iPubSub test CA',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
    ]),
    dir,
  );
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  const servers = [1, 2].map((n) => {
    openssl(
      ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=node ${n}`].concat([
        '-keyout',
        `server-${n}.key`,
        '-out',
        `server-${n}.csr`,
      ]),
      dir,
    );
    openssl(
      ['x509', '-req', '-in', `server-${n}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
        '-days',
        '2',
        '-extfile',
        'server.ext',
        '-out',
        `server-${n}.pem`,
      ]),
      dir,
    );
    return { certFile: join(dir, `server-${n}.pem`), keyFile: join(dir, `server-${n}.key`) };
  });
  const caFile = join(dir, 'ca.pem');
  return { caFile, ca: execFileSync('cat', [caFile], { encoding: 'utf8' }), servers };
}

export interface HttpsAnswer {
  status: number;
  body: string;
  /** The server certificate's SHA-256 fingerprint, as this connection saw it. */
  fingerprint: string;
}

/** One HTTPS request that trusts `ca` (and verifies the server's certificate against it). */
export function httpsRequest(
  url: string,
  options: { ca: string; method?: string; headers?: Record<string, string>; body?: string; agent?: Agent },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, ca: options.ca, agent: options.agent ?? false },
      (res) => {
        const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body, fingerprint }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
