import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { register } from 'prom-client';
import { carriesToken } from './operations-endpoints';

/**
 * `GET /metrics` for a process without Nest's HTTP server (the standalone worker), so its job durations and
 * queue depths can be scraped like the API's, with the same token (METRICS_TOKEN) when one is set. Nothing else
 * is served; the server never keeps the process alive.
 */
export async function serveMetrics(options: { host: string; port: number; token?: string }): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (options.token !== undefined && !carriesToken(request.headers.authorization, options.token, { basic: false })) {
      response.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="metrics"' }).end('unauthenticated\n');
      return;
    }
    register.metrics().then(
      (body) => response.writeHead(200, { 'content-type': register.contentType }).end(body),
      () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  server.unref();
  return { server, port: (server.address() as AddressInfo).port };
}
