import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { selfSignedCertificate } from './self-signed-certificate';

describe('selfSignedCertificate', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });

  it('makes a certificate node:crypto reads: its subject, serial, validity and key, signed by that key', () => {
    const pem = selfSignedCertificate({
      privateKey,
      publicKey,
      subject: { commonName: 'wechatpay.sandbox.example', organizationName: 'Sandbox 沙箱' },
      notBefore: new Date('2026-01-02T03:04:05Z'),
      notAfter: new Date('2036-01-02T03:04:05Z'),
      serial: Buffer.from('7A00000000000000000000000000000000000001', 'hex'),
    });
    const certificate = new X509Certificate(pem);
    expect(certificate.subject).toBe('CN=wechatpay.sandbox.example\nO=Sandbox 沙箱');
    expect(certificate.issuer).toBe(certificate.subject);
    expect(certificate.serialNumber.toUpperCase()).toBe('7A00000000000000000000000000000000000001');
    expect(new Date(certificate.validFrom).toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(new Date(certificate.validTo).toISOString()).toBe('2036-01-02T03:04:05.000Z');
    expect(certificate.publicKey.export({ type: 'spki', format: 'pem' })).toBe(publicKey.export({ type: 'spki', format: 'pem' }));
    expect(certificate.verify(publicKey)).toBe(true);
    expect(certificate.verify(other.publicKey)).toBe(false);
  });

  it('gives each certificate a positive 20-byte serial of its own, and writes years from 2050 as GeneralizedTime', () => {
    const make = () =>
      new X509Certificate(
        selfSignedCertificate({
          privateKey,
          publicKey,
          subject: { commonName: 'a', organizationName: 'b' },
          notBefore: new Date('2049-12-31T23:59:59Z'),
          notAfter: new Date('2060-06-01T00:00:00Z'),
        }),
      );
    const [one, two] = [make(), make()];
    expect(one.serialNumber).toMatch(/^[1-7][0-9A-F]{39}$/i);
    expect(one.serialNumber).not.toBe(two.serialNumber);
    expect(new Date(one.validFrom).toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(new Date(one.validTo).toISOString()).toBe('2060-06-01T00:00:00.000Z');
    expect(one.verify(publicKey)).toBe(true);
  });
});
