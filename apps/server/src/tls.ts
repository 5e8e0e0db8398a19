import { readFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Logger } from 'pino';
import { ConfigError, type AppConfig } from './config/index.js';

/** The certificate (with its chain) and key of `http.tls`, as https.createServer and setSecureContext take them. */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/** Reads `http.tls`; undefined when HTTPS is off. Throws (the node does not start) when a file is unreadable. */
export function readTlsFiles(tls: AppConfig['http']['tls']): TlsFiles | undefined {
  if (tls.certFile === undefined || tls.keyFile === undefined) return undefined;
  return { cert: readKeyFile(tls.certFile, 'http.tls.certFile'), key: readKeyFile(tls.keyFile, 'http.tls.keyFile') };
}

function readKeyFile(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${key}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * On SIGHUP, reads the certificate and key again and serves new connections with them; connections already
 * open keep theirs and are not dropped. A file that cannot be read, or a key that does not fit its
 * certificate, leaves the current pair in place and is logged.
 */
export function reloadTlsOnSighup(server: HttpsServer, tls: AppConfig['http']['tls'], logger: Logger): void {
  process.on('SIGHUP', () => {
    try {
      server.setSecureContext(readTlsFiles(tls)!);
      logger.info({ certFile: tls.certFile }, 'TLS certificate and key reloaded');
    } catch (err) {
      logger.error(
        { err, certFile: tls.certFile, keyFile: tls.keyFile },
        'TLS reload failed; keeping the current certificate',
      );
    }
  });
}

/**
 * The certificates a member trusts when it calls another over https://: the system's, plus the private CA of
 * `cluster.tls.caFile` (a `ca` option alone would replace the system's).
 */
export function clusterTrust(tls: AppConfig['cluster']['tls']): { ca: string[] } | undefined {
  if (tls.caFile === undefined) return undefined;
  return { ca: [...rootCertificates, readKeyFile(tls.caFile, 'cluster.tls.caFile').toString()] };
}
