import { createHash, createPrivateKey, generateKeyPairSync, KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { SandboxKeysRepository } from './sandbox-keys.repository';

export interface SigningIdentity {
  privateKey: KeyObject;
  certificatePem: string;
  fingerprint: string;
  /** The certificate's serial number, upper-case hex. */
  serial: string;
}

/**
 * A mock provider's signing key and self-signed certificate, made on first use and kept in `sandbox_keys`,
 * so every process signs with the same key and a restart keeps the certificate receivers have cached.
 */
export async function loadOrMakeIdentity(keys: SandboxKeysRepository, name: string, commonName: string): Promise<SigningIdentity> {
  let stored = await keys.find(name);
  if (!stored) {
    const made = makeIdentity(commonName);
    // Two processes may make one at once: the first stored wins and both use it.
    await keys.insertIfAbsent(name, made.privateKeyPem, made.certificatePem);
    stored = (await keys.find(name))!;
  }
  return {
    privateKey: createPrivateKey(stored.private_key_pem),
    certificatePem: stored.certificate_pem,
    fingerprint: createHash('sha256').update(stored.certificate_pem).digest('hex'),
    serial: new X509Certificate(stored.certificate_pem).serialNumber.toUpperCase(),
  };
}

function makeIdentity(commonName: string): { privateKeyPem: string; certificatePem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  // A positive 20-byte serial, as real certificates have (WeChat names platform certificates by it).
  certificate.serialNumber = `7${randomBytes(19).toString('hex')}`;
  certificate.validity.notBefore = new Date(Date.now() - 60_000);
  certificate.validity.notAfter = new Date(Date.now() + 10 * 365 * 24 * 60 * 60 * 1000);
  const subject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'Yuanbridge sandbox' },
  ];
  certificate.setSubject(subject);
  certificate.setIssuer(subject);
  certificate.sign(forge.pki.privateKeyFromPem(privateKeyPem), forge.md.sha256.create());
  return { privateKeyPem, certificatePem: forge.pki.certificateToPem(certificate) };
}
