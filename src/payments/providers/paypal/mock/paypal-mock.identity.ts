import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash, createPrivateKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { DataSource } from 'typeorm';

export const PAYPAL_MOCK_CERT_ID = 'CERT-mock-1';

export interface SigningIdentity {
  privateKey: KeyObject;
  certificatePem: string;
  fingerprint: string;
}

/**
 * The mock's webhook signing key and its self-signed certificate, made on first use and kept in PostgreSQL,
 * so every process signs with the same key and a restart keeps the certificate receivers have cached.
 */
@Injectable()
export class PaypalMockIdentity {
  private identity?: Promise<SigningIdentity>;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  get(): Promise<SigningIdentity> {
    this.identity ??= this.load().catch((error) => {
      this.identity = undefined;
      throw error;
    });
    return this.identity;
  }

  private async load(): Promise<SigningIdentity> {
    let rows: { private_key_pem: string; certificate_pem: string }[] = await this.dataSource.query(
      `SELECT private_key_pem, certificate_pem FROM sandbox_keys WHERE name = $1`,
      [PAYPAL_MOCK_CERT_ID],
    );
    if (rows.length === 0) {
      const made = makeIdentity();
      // Two processes may make one at once: the first stored wins and both use it.
      await this.dataSource.query(
        `INSERT INTO sandbox_keys (name, private_key_pem, certificate_pem) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
        [PAYPAL_MOCK_CERT_ID, made.privateKeyPem, made.certificatePem],
      );
      rows = await this.dataSource.query(`SELECT private_key_pem, certificate_pem FROM sandbox_keys WHERE name = $1`, [
        PAYPAL_MOCK_CERT_ID,
      ]);
    }
    return {
      privateKey: createPrivateKey(rows[0].private_key_pem),
      certificatePem: rows[0].certificate_pem,
      fingerprint: createHash('sha256').update(rows[0].certificate_pem).digest('hex'),
    };
  }
}

function makeIdentity(): { privateKeyPem: string; certificatePem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  certificate.serialNumber = '01';
  certificate.validity.notBefore = new Date(Date.now() - 60_000);
  certificate.validity.notAfter = new Date(Date.now() + 10 * 365 * 24 * 60 * 60 * 1000);
  const subject = [
    { name: 'commonName', value: 'messageverificationcerts.sandbox.yuanbridge.local' },
    { name: 'organizationName', value: 'Yuanbridge sandbox' },
  ];
  certificate.setSubject(subject);
  certificate.setIssuer(subject);
  certificate.sign(forge.pki.privateKeyFromPem(privateKeyPem), forge.md.sha256.create());
  return { privateKeyPem, certificatePem: forge.pki.certificateToPem(certificate) };
}
