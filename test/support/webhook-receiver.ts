import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';

/** One request a receiver got: its path, headers and raw body, as the sender wrote them. */
export interface ReceivedWebhook {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface WebhookReceiver {
  /** Every request, in the order it arrived. */
  received: ReceivedWebhook[];
  /** The status a path answers with, given the number of its request (1 for the first); 200 when none is set. */
  answers: Map<string, (count: number, request: ReceivedWebhook) => number>;
  url(path: string): string;
  at(path: string): ReceivedWebhook[];
  close(): Promise<void>;
}

/** A client webhook receiver on 127.0.0.1 (name it in WEBHOOK_ALLOWED_HOSTS): keeps each request, answers 200 unless told. */
export async function webhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const answers = new Map<string, (count: number, request: ReceivedWebhook) => number>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const got = { path: request.url ?? '/', headers: request.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(got);
      const answer = answers.get(got.path);
      response.writeHead(answer ? answer(received.filter((r) => r.path === got.path).length, got) : 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    received,
    answers,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    at: (path) => received.filter((r) => r.path === path),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
