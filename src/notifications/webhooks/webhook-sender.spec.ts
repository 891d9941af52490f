import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import { selfSignedCertificate } from '../../../test/support/other-certificate';
import type { Lookup } from '../../common/http/public-target';
import { MAX_ANSWER_BYTES, sendDelivery } from './webhook-sender';

describe('sendDelivery', () => {
  let server: Server;
  let port: number;
  let handle: (request: IncomingMessage, response: ServerResponse) => void;
  const seen: { host?: string; body: string; headers: IncomingMessage['headers'] }[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        seen.push({ host: request.headers.host, body: Buffer.concat(chunks).toString('utf8'), headers: request.headers });
        handle(request, response);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    seen.length = 0;
  });

  /** A name resolved once, to loopback: a second lookup would get a different (refused) answer. */
  function rebinding(): { lookup: Lookup; calls: () => number } {
    let calls = 0;
    const lookup: Lookup = () => {
      calls += 1;
      return Promise.resolve([{ address: calls === 1 ? '127.0.0.1' : '10.0.0.1', family: 4 }]);
    };
    return { lookup, calls: () => calls };
  }

  it('connects to the address it checked, once resolved, with the URL’s host as Host', async () => {
    handle = (_, response) => response.writeHead(204).end();
    const { lookup, calls } = rebinding();
    const outcome = await sendDelivery(`http://hooks.test:${port}/in?a=1`, { 'x-event-id': 'e1' }, '{"id":"e1"}', {
      allowedHosts: ['hooks.test'],
      lookup,
    });
    expect(outcome).toEqual({ delivered: true, statusCode: 204, error: null });
    expect(calls()).toBe(1);
    expect(seen).toEqual([
      expect.objectContaining({
        host: `hooks.test:${port}`,
        body: '{"id":"e1"}',
        headers: expect.objectContaining({ 'x-event-id': 'e1' }),
      }),
    ]);
  });

  it('refuses before connecting when the host resolves to an address that is not public', async () => {
    const outcome = await sendDelivery(`http://127.0.0.1:${port}/`, {}, '{}', { allowedHosts: [] });
    expect(outcome).toEqual({ delivered: false, statusCode: null, error: 'The URL’s host resolves to a loopback address' });
    expect(seen).toEqual([]);
  });

  it('follows no redirect, and counts it as a failure', async () => {
    handle = (_, response) => response.writeHead(307, { location: `http://127.0.0.1:${port}/elsewhere` }).end();
    const outcome = await sendDelivery(`http://127.0.0.1:${port}/`, {}, '{}', { allowedHosts: ['127.0.0.1'] });
    expect(outcome).toEqual({ delivered: false, statusCode: 307, error: 'Redirect (307) not followed' });
    expect(seen).toHaveLength(1);
  });

  it('stops reading a long answer, and keeps its status', async () => {
    let closed!: () => void;
    const dropped = new Promise<void>((resolve) => (closed = resolve));
    handle = (_, response) => {
      response.writeHead(200);
      const chunk = Buffer.alloc(16 * 1024, 'a');
      // An endless answer: only the sender's cap ends it.
      const timer = setInterval(() => response.write(chunk), 1);
      response.on('close', () => {
        clearInterval(timer);
        closed();
      });
    };
    const outcome = await sendDelivery(`http://127.0.0.1:${port}/`, {}, '{}', { allowedHosts: ['127.0.0.1'], timeoutMs: 60000 });
    expect(outcome).toEqual({ delivered: true, statusCode: 200, error: null });
    await dropped;
    expect(MAX_ANSWER_BYTES).toBe(64 * 1024);
  });

  it('gives up on a receiver that does not answer in time, and on one that refuses the connection', async () => {
    handle = () => undefined;
    const outcome = await sendDelivery(`http://127.0.0.1:${port}/`, {}, '{}', { allowedHosts: ['127.0.0.1'], timeoutMs: 200 });
    expect(outcome).toEqual({ delivered: false, statusCode: null, error: 'No answer within 200 ms' });
    const refused = await sendDelivery('http://127.0.0.1:1/', {}, '{}', { allowedHosts: ['127.0.0.1'] });
    expect(refused).toEqual({ delivered: false, statusCode: null, error: 'Connection failed (ECONNREFUSED)' });
  });

  it('speaks TLS to the checked address with the URL’s host as server name, and verifies the certificate', async () => {
    const context = createSecureContext(selfSignedCertificate('hooks.test', '01'));
    const names: string[] = [];
    const tls = createHttpsServer(
      {
        SNICallback: (servername, done) => {
          names.push(servername);
          done(null, context);
        },
      },
      (_, response) => response.writeHead(200).end(),
    );
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    try {
      const { lookup } = rebinding();
      const outcome = await sendDelivery(`https://hooks.test:${(tls.address() as AddressInfo).port}/`, {}, '{}', {
        allowedHosts: ['hooks.test'],
        lookup,
      });
      // Self-signed: refused, as any certificate no public authority vouches for.
      expect(outcome).toEqual({
        delivered: false,
        statusCode: null,
        error: expect.stringMatching(/^Connection failed \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\)$/),
      });
      expect(names).toEqual(['hooks.test']);
    } finally {
      tls.closeAllConnections();
      await new Promise((resolve) => tls.close(resolve));
    }
  });
});
