import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, X509Certificate } from 'node:crypto';
import { SandboxKeysRepository } from './sandbox-keys.repository';
import { selfSignedCertificate } from './self-signed-certificate';

export interface SigningIdentity {
  privateKey: KeyObject;
  /** The certificate's public key, parsed once: what a check of the mock's own signatures verifies against. */
  publicKey: KeyObject;
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
    publicKey: createPublicKey(stored.certificate_pem),
    certificatePem: stored.certificate_pem,
    fingerprint: createHash('sha256').update(stored.certificate_pem).digest('hex'),
    serial: new X509Certificate(stored.certificate_pem).serialNumber.toUpperCase(),
  };
}

function makeIdentity(commonName: string): { privateKeyPem: string; certificatePem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const certificatePem = selfSignedCertificate({
    privateKey,
    publicKey,
    subject: { commonName, organizationName: 'Yuanbridge sandbox' },
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 10 * 365 * 24 * 60 * 60 * 1000),
  });
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certificatePem };
}

export interface SigningKeyPair {
  privateKey: KeyObject;
  /** SPKI PEM, as a provider hands out a bare public key (WeChat Pay's `pub_key.pem`). */
  publicKeyPem: string;
}

/**
 * A mock provider's signing key published as a bare public key, no certificate (WeChat Pay's public-key mode), made
 * on first use and kept in `sandbox_keys` like the others: the public key PEM stands where a certificate would.
 */
export async function loadOrMakeKeyPair(keys: SandboxKeysRepository, name: string): Promise<SigningKeyPair> {
  let stored = await keys.find(name);
  if (!stored) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await keys.insertIfAbsent(
      name,
      privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
    stored = (await keys.find(name))!;
  }
  const privateKey = createPrivateKey(stored.private_key_pem);
  return { privateKey, publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString() };
}
