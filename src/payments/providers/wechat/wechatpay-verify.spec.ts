import { generateKeyPairSync } from 'node:crypto';
import { responseMessage, rsaSign } from './wechatpay-crypto';
import { isPublicKeySerial, keyForSerial, signatureHeaders, verifySignature } from './wechatpay-verify';

describe('WeChat Pay answer and notification verification', () => {
  const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const wechatPublic = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const CERT_SERIAL = '7A3F00000000000000000000000000000000BEEF';
  const KEY_ID = 'PUB_KEY_ID_0119000000011234567890123456';
  const known = {
    publicKey: { id: KEY_ID, key: wechatPublic.publicKey },
    certificates: new Map([[CERT_SERIAL, platform.publicKey]]),
  };
  const now = 1_800_000_000_000;
  const timestamp = String(now / 1000);
  const body = '{"transfer_id":"1000020260101","amount":100000}';
  const signedBy = (key: typeof platform.privateKey, serial: string) => ({
    timestamp,
    nonce: 'N0NCE',
    serial,
    signature: rsaSign(key, responseMessage(timestamp, 'N0NCE', body)),
  });

  it('reads the four Wechatpay-* headers, and nothing when one is missing or empty', () => {
    const headers: Record<string, string> = {
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': 'N',
      'wechatpay-serial': KEY_ID,
      'wechatpay-signature': 'c2ln',
    };
    expect(signatureHeaders((name) => headers[name])).toEqual({ timestamp, nonce: 'N', serial: KEY_ID, signature: 'c2ln' });
    for (const name of Object.keys(headers)) {
      expect(signatureHeaders((asked) => (asked === name ? undefined : headers[asked]))).toBeNull();
      expect(signatureHeaders((asked) => (asked === name ? '' : headers[asked]))).toBeNull();
    }
  });

  it('tells a public key id from a certificate serial by its PUB_KEY_ID_ prefix', () => {
    expect(isPublicKeySerial(KEY_ID)).toBe(true);
    expect(isPublicKeySerial(CERT_SERIAL)).toBe(false);
    expect(isPublicKeySerial('pub_key_id_0119')).toBe(false);
  });

  it('gives a PUB_KEY_ID_ serial the configured public key only, and any other serial a platform certificate (any case)', () => {
    expect(keyForSerial(KEY_ID, known)).toBe(wechatPublic.publicKey);
    expect(keyForSerial(CERT_SERIAL, known)).toBe(platform.publicKey);
    expect(keyForSerial(CERT_SERIAL.toLowerCase(), known)).toBe(platform.publicKey);
    expect(keyForSerial('PUB_KEY_ID_0119000000019999999999999999', known)).toBeUndefined();
    expect(keyForSerial('5157F09EFDC096DE15EBE81A47057A7200000000', known)).toBeUndefined();
    // Without a public key configured, a public key id is unknown: it never falls through to the certificates.
    const certificatesOnly = { certificates: new Map([[KEY_ID, platform.publicKey]]) };
    expect(keyForSerial(KEY_ID, certificatesOnly)).toBeUndefined();
  });

  it('accepts a body signed with the key its serial names, in either mode', () => {
    for (const [signed, key] of [
      [signedBy(wechatPublic.privateKey, KEY_ID), wechatPublic.publicKey],
      [signedBy(platform.privateKey, CERT_SERIAL), platform.publicKey],
    ] as const) {
      expect(keyForSerial(signed.serial, known)).toBe(key);
      expect(verifySignature(signed, body, key, now)).toBe(true);
    }
  });

  it('refuses another key’s signature, a changed body, and a timestamp more than five minutes away', () => {
    const forged = signedBy(stranger.privateKey, KEY_ID);
    expect(verifySignature(forged, body, keyForSerial(KEY_ID, known)!, now)).toBe(false);
    // The platform certificate's key signing under the public key's id is still the wrong key.
    expect(verifySignature(signedBy(platform.privateKey, KEY_ID), body, keyForSerial(KEY_ID, known)!, now)).toBe(false);
    const genuine = signedBy(wechatPublic.privateKey, KEY_ID);
    expect(verifySignature(genuine, body.replace('100000', '900000'), wechatPublic.publicKey, now)).toBe(false);
    expect(verifySignature(genuine, body, wechatPublic.publicKey, now + 301_000)).toBe(false);
    expect(verifySignature(genuine, body, wechatPublic.publicKey, now - 301_000)).toBe(false);
    expect(verifySignature(genuine, body, wechatPublic.publicKey, now + 299_000)).toBe(true);
    expect(verifySignature({ ...genuine, signature: 'not base64 at all' }, body, wechatPublic.publicKey, now)).toBe(false);
  });
});
