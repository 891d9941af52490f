import { KeyObject } from 'node:crypto';
import { WECHATPAY_PUBLIC_KEY_SERIAL_PREFIX } from '../../../config';
import { responseMessage, rsaVerify, withinTolerance } from './wechatpay-crypto';

/**
 * Which key checks a WeChat Pay answer or notification. `Wechatpay-Serial` names it: `PUB_KEY_ID_…` the WeChat Pay
 * public key the merchant downloaded from the merchant platform (public-key mode, every merchant since late 2024),
 * anything else a platform certificate from `/v3/certificates` (serials in any case). Either way the signature is
 * RSA-SHA256 over `timestamp\nnonce\nbody\n`, within five minutes.
 */
export interface WechatpaySignature {
  timestamp: string;
  nonce: string;
  serial: string;
  signature: string;
}

/** The four `Wechatpay-*` headers, or null when one is missing or empty. */
export function signatureHeaders(header: (name: string) => string | null | undefined): WechatpaySignature | null {
  const timestamp = header('wechatpay-timestamp');
  const nonce = header('wechatpay-nonce');
  const serial = header('wechatpay-serial');
  const signature = header('wechatpay-signature');
  if (!timestamp || !nonce || !serial || !signature) return null;
  return { timestamp, nonce, serial, signature };
}

export function isPublicKeySerial(serial: string): boolean {
  return serial.startsWith(WECHATPAY_PUBLIC_KEY_SERIAL_PREFIX);
}

export interface PublicKeyEntry {
  id: string;
  key: KeyObject;
}

/**
 * The key a serial names among those known: a public key id only ever matches the public key (never a certificate,
 * so a forged `PUB_KEY_ID_…` cannot fall through to one), any other serial only a platform certificate.
 */
export function keyForSerial(
  serial: string,
  known: { publicKey?: PublicKeyEntry; certificates: ReadonlyMap<string, KeyObject> },
): KeyObject | undefined {
  if (isPublicKeySerial(serial)) return known.publicKey?.id === serial ? known.publicKey.key : undefined;
  return known.certificates.get(serial.toUpperCase());
}

/** True when the signature over `rawBody` is the key's and its timestamp is within five minutes of `now`. */
export function verifySignature(signed: WechatpaySignature, rawBody: string, key: KeyObject, now = Date.now()): boolean {
  return (
    withinTolerance(signed.timestamp, now) && rsaVerify(key, responseMessage(signed.timestamp, signed.nonce, rawBody), signed.signature)
  );
}
