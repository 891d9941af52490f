import { KeyObject, randomBytes, sign } from 'node:crypto';

/**
 * A self-signed X.509 v3 certificate (RSA, SHA-256), DER-encoded here because node:crypto reads certificates but
 * does not make them: the mocks need one per signing key (PayPal's webhook certificate, WeChat's platform
 * certificate), and this keeps a certificate library out of the service. Only what a certificate needs: version,
 * serial, algorithm, issuer = subject, validity, the public key; no extensions.
 */
export function selfSignedCertificate(given: {
  privateKey: KeyObject;
  publicKey: KeyObject;
  subject: { commonName: string; organizationName: string };
  notBefore: Date;
  notAfter: Date;
  /** Positive, as real certificates' are; 20 random bytes unless given. */
  serial?: Buffer;
}): string {
  const serial = given.serial ?? positiveSerial();
  const algorithm = sequence(oid('1.2.840.113549.1.1.11'), tlv(0x05, Buffer.alloc(0))); // sha256WithRSAEncryption
  const name = sequence(
    tlv(0x31, sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from(given.subject.commonName, 'utf8')))),
    tlv(0x31, sequence(oid('2.5.4.10'), tlv(0x0c, Buffer.from(given.subject.organizationName, 'utf8')))),
  );
  const tbs = sequence(
    tlv(0xa0, integer(Buffer.from([2]))), // [0] EXPLICIT version: v3
    integer(serial),
    algorithm,
    name,
    sequence(time(given.notBefore), time(given.notAfter)),
    name,
    given.publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, given.privateKey);
  const der = sequence(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** 20 random bytes, the first in 0x10..0x7f: positive, and no leading zero to drop (WeChat names certificates by it). */
function positiveSerial(): Buffer {
  const serial = randomBytes(20);
  serial[0] = 0x10 | (serial[0] & 0x6f);
  return serial;
}

function tlv(tag: number, content: Buffer): Buffer {
  const length = content.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else if (length < 0x100) header = Buffer.from([tag, 0x81, length]);
  else header = Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
  return Buffer.concat([header, content]);
}

function sequence(...parts: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(parts));
}

/** A non-negative INTEGER from its big-endian bytes (a zero byte prefixed when the top bit is set). */
function integer(bytes: Buffer): Buffer {
  return tlv(0x02, bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * first + second];
  for (const arc of rest) {
    const digits = [arc & 0x7f];
    for (let value = arc >> 7; value > 0; value >>= 7) digits.unshift((value & 0x7f) | 0x80);
    bytes.push(...digits);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime through 2049, GeneralizedTime after, as RFC 5280 asks; to the second, in UTC. */
function time(at: Date): Buffer {
  const iso = at.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return at.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii')) : tlv(0x18, Buffer.from(digits, 'ascii'));
}
