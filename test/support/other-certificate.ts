import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

/** A self-signed certificate (PEM) and its key, for `commonName`, valid from a minute ago for a day. */
export function selfSignedCertificate(commonName: string, serialNumber: string, extensions: object[] = []): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  certificate.serialNumber = serialNumber;
  certificate.validity.notBefore = new Date(Date.now() - 60_000);
  certificate.validity.notAfter = new Date(Date.now() + 86_400_000);
  const name = [{ name: 'commonName', value: commonName }];
  certificate.setSubject(name);
  certificate.setIssuer(name);
  if (extensions.length > 0) certificate.setExtensions(extensions);
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  certificate.sign(forge.pki.privateKeyFromPem(key), forge.md.sha256.create());
  return { key, cert: forge.pki.certificateToPem(certificate) };
}

/** A self-signed certificate of another key: what a client that trusts the wrong certificate holds. */
export function makeOtherCertificate(): { certificate: string } {
  return { certificate: selfSignedCertificate('someone else', '02').cert };
}
