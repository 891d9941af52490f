import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Worker } from 'bullmq';

/** The one start-up line about workers: which queues this process works, and how many jobs each runs at once. */
export function describeWorkers(workers: Worker[], enabled: boolean): { msg: string; queues: string[]; concurrency: number } {
  if (!enabled || workers.length === 0)
    return {
      msg: 'Workers: none in this process (RUN_WORKERS=false): run them with `npm run start:worker`',
      queues: [],
      concurrency: 0,
    };
  const counts = new Map<number, number>();
  for (const worker of workers) counts.set(worker.concurrency, (counts.get(worker.concurrency) ?? 0) + 1);
  const usual = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
  const queues = workers.map((worker) => (worker.concurrency === usual ? worker.name : `${worker.name} ×${worker.concurrency}`));
  return {
    msg: `Workers: ${workers.length} queues, ${usual} jobs at once each, and the outbox relay (${queues.join(', ')})`,
    queues: workers.map((worker) => worker.name),
    concurrency: usual,
  };
}

/** A URL a person can open: a wildcard listening address is reached through the loopback one. */
function openableUrl(url: string): string {
  const parsed = new URL(url);
  if (['0.0.0.0', '[::]'].includes(parsed.hostname)) parsed.hostname = 'localhost';
  return parsed.origin;
}

/** The one start-up line about where the API listens, with its docs and the operator console when served. */
export async function describeListening(
  app: NestFastifyApplication,
  options: { docs: boolean; sandbox: boolean },
): Promise<{ msg: string; url: string; docsUrl?: string; consoleUrl?: string }> {
  const url = openableUrl(await app.getUrl());
  const fastify = app.getHttpAdapter().getInstance();
  const docsUrl = options.docs ? `${url}/docs` : undefined;
  // The console is named only once something serves it.
  const consoleUrl =
    options.sandbox && ['/admin', '/admin/'].some((path) => fastify.hasRoute({ method: 'GET', url: path })) ? `${url}/admin` : undefined;
  const extras = [docsUrl && `API docs ${docsUrl}`, consoleUrl && `console ${consoleUrl}`].filter(Boolean);
  return { msg: `Yuanbridge API listening on ${url}${extras.length ? ` (${extras.join(', ')})` : ''}`, url, docsUrl, consoleUrl };
}

/** The sandbox process's line: where the mocks listen, and where they deliver their callbacks. */
export async function describeSandboxListening(
  app: NestFastifyApplication,
  options: { serviceUrl: string },
): Promise<{ msg: string; url: string; mocks: Record<'paypal' | 'wechat' | 'bank', string>; serviceUrl: string }> {
  const url = openableUrl(await app.getUrl());
  const mocks = { paypal: `${url}/sandbox/paypal`, wechat: `${url}/sandbox/wechat`, bank: `${url}/sandbox/bank` };
  return {
    msg: `Yuanbridge sandbox listening on ${url} (PayPal, WeChat Pay and bank mocks under ${url}/sandbox; callbacks to ${options.serviceUrl})`,
    url,
    mocks,
    serviceUrl: options.serviceUrl,
  };
}
