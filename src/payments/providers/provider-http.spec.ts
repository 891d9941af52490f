import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { providerRequest } from './provider-http';

type Handler = (request: IncomingMessage, response: ServerResponse, body: string, call: number) => void;

/** A provider on loopback: `handle` answers each call (numbered from 1), and the connections it saw are counted. */
async function provider(handle: Handler): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  let calls = 0;
  let connections = 0;
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => handle(request, response, body, (calls += 1)));
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())).then(() => server.closeAllConnections()),
  };
}

describe('providerRequest', () => {
  it('sends the method, headers and body, reads any status whole, and keeps the connection for the next call', async () => {
    const mock = await provider((request, response, body) => {
      response.writeHead(body === 'bad' ? 422 : 201, { 'content-type': 'application/json', 'wechatpay-nonce': 'N1' });
      response.end(JSON.stringify({ method: request.method, auth: request.headers.authorization, body }));
    });
    try {
      const created = await providerRequest(`${mock.url}/v1/things`, {
        method: 'POST',
        headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
        body: '{"amount":"1.00 ¥"}',
        timeoutMs: 1000,
      });
      expect(created).toMatchObject({ status: 201, ok: true });
      expect(JSON.parse(created.text)).toEqual({ method: 'POST', auth: 'Bearer t', body: '{"amount":"1.00 ¥"}' });
      expect(created.header('WeChatPay-Nonce')).toBe('N1');
      expect(created.header('absent')).toBeUndefined();

      const refused = await providerRequest(`${mock.url}/v1/things`, { method: 'POST', body: 'bad', timeoutMs: 1000 });
      expect(refused).toMatchObject({ status: 422, ok: false });
      expect(mock.connections()).toBe(1);
    } finally {
      await mock.close();
    }
  });

  it('gives up on a provider that does not answer in time', async () => {
    const mock = await provider(() => undefined);
    try {
      await expect(providerRequest(`${mock.url}/slow`, { timeoutMs: 100 })).rejects.toThrow('no answer within 100 ms');
    } finally {
      await mock.close();
    }
  });

  it('sends a call again once on a new connection when the kept one was closed under it', async () => {
    const mock = await provider((request, response, _body, call) => {
      // The second call arrives on the kept connection, which the provider drops without answering.
      if (call === 2) return request.socket.destroy();
      response.end(`call ${call}`);
    });
    try {
      expect((await providerRequest(`${mock.url}/a`, { timeoutMs: 1000 })).text).toBe('call 1');
      expect((await providerRequest(`${mock.url}/b`, { timeoutMs: 1000 })).text).toBe('call 3');
      expect(mock.connections()).toBe(2);
    } finally {
      await mock.close();
    }
  });

  it('does not send again a call a second delivery could repeat, nor one whose answer had begun', async () => {
    const mock = await provider((request, response, _body, call) => {
      if (call === 2) return request.socket.destroy();
      if (call === 4) {
        // The answer starts on the kept connection, then the connection drops mid-body.
        response.writeHead(200, { 'content-length': '100' });
        response.write('partial');
        return setTimeout(() => request.socket.destroy(), 20);
      }
      response.end(`call ${call}`);
    });
    try {
      expect((await providerRequest(`${mock.url}/a`, { timeoutMs: 1000 })).text).toBe('call 1');
      // A POST with no idempotency header, dropped on the kept connection: not sent again.
      await expect(providerRequest(`${mock.url}/pay`, { method: 'POST', body: '{}', timeoutMs: 1000 })).rejects.toMatchObject({
        code: 'ECONNRESET',
        reusedSocket: true,
      });
      expect((await providerRequest(`${mock.url}/b`, { timeoutMs: 1000 })).text).toBe('call 3');
      // A read whose answer had begun when its kept connection dropped: not sent again either.
      await expect(providerRequest(`${mock.url}/c`, { timeoutMs: 1000 })).rejects.toMatchObject({
        reusedSocket: true,
        answerStarted: true,
      });
      expect((await providerRequest(`${mock.url}/d`, { timeoutMs: 1000 })).text).toBe('call 5');
    } finally {
      await mock.close();
    }
  });

  it('names itself, and takes a redirect as a failure to reach the provider rather than following it', async () => {
    const mock = await provider((request, response, _body, call) => {
      if (call === 1) return response.end(String(request.headers['user-agent']));
      response.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' });
      response.end();
    });
    try {
      expect((await providerRequest(`${mock.url}/who`, { timeoutMs: 1000 })).text).toMatch(/^Yuanbridge node\//);
      await expect(providerRequest(`${mock.url}/moved`, { timeoutMs: 1000 })).rejects.toThrow('redirect (HTTP 302)');
    } finally {
      await mock.close();
    }
  });

  it('rejects when the provider cannot be reached', async () => {
    await expect(providerRequest('http://127.0.0.1:1/x', { timeoutMs: 1000 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
