import { generateKeyPairSync } from 'node:crypto';
import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  authorizationHeader,
  parseAuthorization,
  requestMessage,
  responseMessage,
  rsaSign,
  rsaVerify,
  withinTolerance,
} from './wechatpay-crypto';

describe('WeChat Pay v3 crypto', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const apiV3Key = '0123456789abcdef0123456789abcdef';

  it('builds the signed messages with a trailing newline on each line', () => {
    expect(requestMessage('get', '/v3/x?a=1', '1700000000', 'N', '')).toBe('GET\n/v3/x?a=1\n1700000000\nN\n\n');
    expect(responseMessage('1700000000', 'N', '{}')).toBe('1700000000\nN\n{}\n');
  });

  it('verifies its own RSA signature and refuses a changed message or another key', () => {
    const signature = rsaSign(privateKey, 'message');
    expect(rsaVerify(publicKey, 'message', signature)).toBe(true);
    expect(rsaVerify(publicKey, 'message!', signature)).toBe(false);
    expect(rsaVerify(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey, 'message', signature)).toBe(false);
    expect(rsaVerify(publicKey, 'message', 'not base64 at all')).toBe(false);
  });

  it('round-trips the Authorization header and refuses other schemes or missing parts', () => {
    const parts = { mchid: '1900000001', nonce_str: 'N', timestamp: '1700000000', serial_no: 'ABC', signature: 'c2ln' };
    expect(parseAuthorization(authorizationHeader(parts))).toEqual(parts);
    expect(parseAuthorization('Bearer x')).toBeNull();
    expect(parseAuthorization(authorizationHeader(parts).replace(/,signature="[^"]*"/, ''))).toBeNull();
    expect(parseAuthorization(undefined)).toBeNull();
  });

  it('accepts timestamps within five minutes only', () => {
    const now = 1_700_000_000_000;
    expect(withinTolerance('1700000299', now)).toBe(true);
    expect(withinTolerance('1700000301', now)).toBe(false);
    expect(withinTolerance('abc', now)).toBe(false);
  });

  it('decrypts what it encrypted with the APIv3 key, and refuses another key or associated data', () => {
    const resource = aesGcmEncrypt(apiV3Key, '{"transfer_id":"T1"}', 'wallet_transfer');
    expect(resource.nonce).toHaveLength(12);
    expect(aesGcmDecrypt(apiV3Key, resource)).toBe('{"transfer_id":"T1"}');
    expect(() => aesGcmDecrypt('fedcba9876543210fedcba9876543210', resource)).toThrow();
    expect(() => aesGcmDecrypt(apiV3Key, { ...resource, associated_data: 'transaction' })).toThrow();
  });
});
