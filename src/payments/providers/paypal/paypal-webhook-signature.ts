import { createPublicKey, createVerify, KeyObject, sign as rsaSign } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** The string PayPal signs: `transmissionId|transmissionTime|webhookId|crc32(rawBody)` (crc32 unsigned, decimal). */
export function signedString(transmissionId: string, transmissionTime: string, webhookId: string, rawBody: Buffer | string): string {
  return `${transmissionId}|${transmissionTime}|${webhookId}|${crc32(rawBody) >>> 0}`;
}

export function signTransmission(privateKey: KeyObject | string, message: string): string {
  return rsaSign('sha256', Buffer.from(message), privateKey).toString('base64');
}

/** `publicKey` as a KeyObject, or a certificate's PEM (parsed on each call: keep the KeyObject where calls repeat). */
export function verifyTransmission(publicKey: KeyObject | string, message: string, signature: string): boolean {
  try {
    const verifier = createVerify('sha256');
    verifier.update(message);
    return verifier.verify(typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
