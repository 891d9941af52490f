import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';

export interface TcpProxy {
  /** The proxy's port on 127.0.0.1. */
  port: number;
  /** Connections made through the proxy so far (each one the proxy accepted). */
  accepted: number;
  /** Cuts every connection and refuses new ones: the server gone. */
  stop(): Promise<void>;
  /** Takes connections again, on the same port. */
  resume(): Promise<void>;
  /** Stops carrying bytes on the connections open now, both ways, and leaves them open: a peer gone silently. */
  freeze(): void;
  close(): Promise<void>;
}

/** A TCP proxy on loopback to `host:port`: what a client sees of a server that goes away and comes back, or falls silent. */
export async function startTcpProxy(host: string, port: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  const frozen: Socket[] = [];
  let server: Server | undefined;
  let proxyPort = 0;
  const proxy: TcpProxy = {
    port: 0,
    accepted: 0,
    async stop() {
      const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
      await closed;
      server = undefined;
    },
    async resume() {
      await listen(proxyPort);
    },
    freeze() {
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
        frozen.push(a, b);
      }
      pairs.clear();
    },
    async close() {
      for (const socket of frozen.splice(0)) socket.destroy();
      await proxy.stop();
    },
  };
  const listen = (at: number) =>
    new Promise<void>((resolve, reject) => {
      const next = createServer((client) => {
        proxy.accepted += 1;
        const upstream = connect(port, host);
        const pair: [Socket, Socket] = [client, upstream];
        pairs.add(pair);
        const drop = () => {
          pairs.delete(pair);
          client.destroy();
          upstream.destroy();
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      next.once('error', reject);
      next.listen(at, '127.0.0.1', () => {
        server = next;
        proxyPort = (next.address() as AddressInfo).port;
        proxy.port = proxyPort;
        resolve();
      });
    });
  await listen(0);
  return proxy;
}
