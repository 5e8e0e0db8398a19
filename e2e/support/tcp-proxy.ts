import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * Forwards a loopback port to a server, so a test can take the server away from one node (close the proxy) while
 * other tests keep using the server itself.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  private closed = false;

  private constructor(targetHost: string, targetPort: number) {
    this.server = createServer((client) => {
      // Accepted before close() but handed over after it.
      if (this.closed) {
        client.destroy();
        return;
      }
      const upstream = connect(targetPort, targetHost);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** Refuses new connections and cuts the open ones (the listener stops at once; it is not waited for). */
  close(): Promise<void> {
    this.closed = true;
    this.server.close();
    for (const socket of this.sockets) socket.destroy();
    return Promise.resolve();
  }
}
