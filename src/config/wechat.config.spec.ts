import { generateKeyPairSync } from 'node:crypto';
import { loadWechatConfig } from './wechat.config';

describe('WeChat Pay public-key mode settings', () => {
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const ID = 'PUB_KEY_ID_0112345678902024121100000000';

  it('has no public key unless both the id and the key are given, and the mock signs with its platform certificate', () => {
    expect(loadWechatConfig({})).toMatchObject({ publicKeyId: undefined, publicKeyPem: undefined, mockSigning: 'platform_certificate' });
    expect(loadWechatConfig({ WECHATPAY_PUBLIC_KEY_ID: ID, WECHATPAY_PUBLIC_KEY: pem })).toMatchObject({
      publicKeyId: ID,
      publicKeyPem: pem.trim(),
    });
    expect(() => loadWechatConfig({ WECHATPAY_PUBLIC_KEY_ID: ID })).toThrow(/set together/);
    expect(() => loadWechatConfig({ WECHATPAY_PUBLIC_KEY: pem })).toThrow(/set together/);
  });

  it('takes a one-line PEM with \\n for its line breaks, as an env file holds it', () => {
    const oneLine = pem.trim().replace(/\n/g, '\\n');
    expect(loadWechatConfig({ WECHATPAY_PUBLIC_KEY_ID: ID, WECHATPAY_PUBLIC_KEY: oneLine }).publicKeyPem).toBe(pem.trim());
  });

  it('refuses an id not in WeChat’s PUB_KEY_ID_ form, a key that is not a public key PEM, and an unknown mock signing', () => {
    expect(() =>
      loadWechatConfig({ WECHATPAY_PUBLIC_KEY_ID: '5157F09EFDC096DE15EBE81A47057A7200000002', WECHATPAY_PUBLIC_KEY: pem }),
    ).toThrow(/WECHATPAY_PUBLIC_KEY_ID starts with PUB_KEY_ID_/);
    expect(() => loadWechatConfig({ WECHATPAY_PUBLIC_KEY_ID: ID, WECHATPAY_PUBLIC_KEY: 'not a key' })).toThrow(
      /WECHATPAY_PUBLIC_KEY is not a PEM/,
    );
    const privatePem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => loadWechatConfig({ WECHATPAY_PUBLIC_KEY_ID: ID, WECHATPAY_PUBLIC_KEY: privatePem })).toThrow(
      /WECHATPAY_PUBLIC_KEY is not a PEM/,
    );
    expect(loadWechatConfig({ WECHAT_MOCK_SIGNING: 'public_key' }).mockSigning).toBe('public_key');
    expect(() => loadWechatConfig({ WECHAT_MOCK_SIGNING: 'public-key' })).toThrow(
      /WECHAT_MOCK_SIGNING is one of platform_certificate, public_key/,
    );
  });
});
