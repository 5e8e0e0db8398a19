import { once } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import { createServer } from 'node:net';

/**
 * Makes `http` also serve connections to `host:port`, a port of this worker alone (others route to it there
 * directly, while the public port is shared by every worker). Bound in this process (`exclusive`), not through
 * the cluster primary, and closed with `http`.
 */
export async function listenOnOwnPort(http: HttpServer, host: string, port: number): Promise<void> {
  const own = createServer((socket) => http.emit('connection', socket));
  own.listen({ host, port, exclusive: true });
  await Promise.race([
    once(own, 'listening'),
    once(own, 'error').then(([err]) => {
      throw new Error(`cannot listen on this worker's own port ${host}:${port}: ${(err as Error).message}`);
    }),
  ]);
  http.once('close', () => own.close());
}
