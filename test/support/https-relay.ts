import { generateKeyPairSync } from 'node:crypto';
import { createServer, Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';

export interface HttpsRelay {
  url: string;
  /** The relay's self-signed certificate (PEM), for a client to trust. */
  certificate: string;
  /** When set, answers this instead of relaying. */
  override?: { status: number; body: unknown };
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1, made with node-forge. */
function loopbackCertificate(): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  certificate.serialNumber = '03';
  certificate.validity.notBefore = new Date(Date.now() - 60_000);
  certificate.validity.notAfter = new Date(Date.now() + 86_400_000);
  const name = [{ name: 'commonName', value: '127.0.0.1' }];
  certificate.setSubject(name);
  certificate.setIssuer(name);
  certificate.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
  ]);
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  certificate.sign(forge.pki.privateKeyFromPem(key), forge.md.sha256.create());
  return { key, cert: forge.pki.certificateToPem(certificate) };
}

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
