import { createCipheriv, createDecipheriv, createSign, createVerify, KeyObject, randomBytes } from 'node:crypto';

/**
 * WeChat Pay API v3's signatures and encryption (PROVIDERS.md §4), shared by the platform's client and the
 * sandbox mock. Requests: RSA-SHA256 with the merchant key over `METHOD\nURL\ntimestamp\nnonce\nbody\n`;
 * responses and notifications: RSA-SHA256 with the platform key over `timestamp\nnonce\nbody\n`; notification
 * resources and certificates: AES-256-GCM with the APIv3 key (ciphertext and tag, base64).
 */
export const AUTH_SCHEME = 'WECHATPAY2-SHA256-RSA2048';
/** How far a signed timestamp may be from now, either way. */
export const WECHATPAY_TOLERANCE_SECONDS = 300;

export function requestMessage(method: string, url: string, timestamp: string, nonce: string, body: string): string {
  return `${method.toUpperCase()}\n${url}\n${timestamp}\n${nonce}\n${body}\n`;
}

export function responseMessage(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

export function rsaSign(privateKey: KeyObject | string, message: string): string {
  return createSign('RSA-SHA256').update(message).sign(privateKey, 'base64');
}

export function rsaVerify(publicKey: KeyObject | string, message: string, signature: string): boolean {
  try {
    return createVerify('RSA-SHA256').update(message).verify(publicKey, signature, 'base64');
  } catch {
    return false;
  }
}

export function nonce(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

export interface AuthorizationParts {
  mchid: string;
  nonce_str: string;
  timestamp: string;
  serial_no: string;
  signature: string;
}

export function authorizationHeader(parts: AuthorizationParts): string {
  return `${AUTH_SCHEME} mchid="${parts.mchid}",nonce_str="${parts.nonce_str}",timestamp="${parts.timestamp}",serial_no="${parts.serial_no}",signature="${parts.signature}"`;
}

/** The parts of a merchant's `Authorization` header, or null when it is not one. */
export function parseAuthorization(header: string | undefined): AuthorizationParts | null {
  if (!header?.startsWith(`${AUTH_SCHEME} `)) return null;
  const parts: Record<string, string> = {};
  for (const match of header.slice(AUTH_SCHEME.length + 1).matchAll(/(\w+)="([^"]*)"/g)) parts[match[1]] = match[2];
  const { mchid, nonce_str, timestamp, serial_no, signature } = parts;
  if (!mchid || !nonce_str || !timestamp || !serial_no || !signature || !/^\d{1,12}$/.test(timestamp)) return null;
  return { mchid, nonce_str, timestamp, serial_no, signature };
}

export function withinTolerance(timestamp: string, now = Date.now()): boolean {
  return /^\d{1,12}$/.test(timestamp) && Math.abs(now / 1000 - Number(timestamp)) <= WECHATPAY_TOLERANCE_SECONDS;
}

export interface EncryptedResource {
  algorithm: 'AEAD_AES_256_GCM';
  ciphertext: string;
  associated_data: string;
  nonce: string;
}

export function aesGcmEncrypt(
  apiV3Key: string,
  plaintext: string,
  associatedData: string,
  iv = randomBytes(6).toString('hex'),
): EncryptedResource {
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key), Buffer.from(iv));
  cipher.setAAD(Buffer.from(associatedData));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { algorithm: 'AEAD_AES_256_GCM', ciphertext: ciphertext.toString('base64'), associated_data: associatedData, nonce: iv };
}

/** Throws when the key, nonce, associated data or ciphertext do not match (a forged or corrupted resource). */
export function aesGcmDecrypt(apiV3Key: string, resource: Pick<EncryptedResource, 'ciphertext' | 'associated_data' | 'nonce'>): string {
  const data = Buffer.from(resource.ciphertext, 'base64');
  if (data.length < 17) throw new Error('ciphertext too short');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(apiV3Key), Buffer.from(resource.nonce));
  decipher.setAAD(Buffer.from(resource.associated_data ?? ''));
  decipher.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8');
}
