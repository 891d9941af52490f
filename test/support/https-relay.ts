import { createServer, Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { selfSignedCertificate } from './other-certificate';

export interface HttpsRelay {
  url: string;
  /** The relay's self-signed certificate (PEM), for a client to trust. */
  certificate: string;
  /** When set, answers this instead of relaying. */
  override?: { status: number; body: unknown };
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1. */
const loopbackCertificate = () =>
  selfSignedCertificate('127.0.0.1', '03', [
    { name: 'basicConstraints', cA: true },
    { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
  ]);

/**
 * An HTTPS endpoint on loopback answering every GET with what `target` answers (status and body): a sandbox
 * service's HTTP endpoint as an HTTPS source, for a production-configured service, which accepts only HTTPS.
 */
export async function startHttpsRelay(target: string): Promise<HttpsRelay> {
  const { key, cert } = loopbackCertificate();
  const relay: Partial<HttpsRelay> = {};
  const server: Server = createServer({ key, cert }, (request, response) => {
    const answer = relay.override
      ? Promise.resolve({ status: relay.override.status, text: JSON.stringify(relay.override.body) })
      : fetch(target).then(async (upstream) => ({ status: upstream.status, text: await upstream.text() }));
    answer.then(
      ({ status, text }) => response.writeHead(status, { 'content-type': 'application/json' }).end(text),
      () => response.writeHead(502).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(relay, {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/usd-cny`,
    certificate: cert,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as HttpsRelay;
}
