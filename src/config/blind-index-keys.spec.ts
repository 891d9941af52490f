import { DEV_BLIND_INDEX_KEY, loadCryptoConfig } from './crypto.config';

const KEY = Buffer.alloc(32, 9).toString('base64');
const PRODUCTION = {
  NODE_ENV: 'production',
  FIELD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  FIELD_ENCRYPTION_ACTIVE_KEY_ID: 'k1',
};

describe('blind index key configuration', () => {
  it('keeps the development key as the legacy key when nothing is set', () => {
    expect(loadCryptoConfig({})).toMatchObject({
      blindIndexKey: DEV_BLIND_INDEX_KEY,
      blindIndexKeys: '',
      blindIndexActiveKeyId: undefined,
    });
  });

  it('reads a keyring and its active id, without the development key beside it', () => {
    expect(loadCryptoConfig({ BLIND_INDEX_KEYS: `b2:${KEY}`, BLIND_INDEX_ACTIVE_KEY_ID: 'b2' })).toMatchObject({
      blindIndexKey: '',
      blindIndexKeys: `b2:${KEY}`,
      blindIndexActiveKeyId: 'b2',
    });
  });

  it('keeps BLIND_INDEX_KEY beside the keyring during a rotation', () => {
    expect(loadCryptoConfig({ BLIND_INDEX_KEY: KEY, BLIND_INDEX_KEYS: `b2:${Buffer.alloc(32, 8).toString('base64')}` }).blindIndexKey).toBe(
      KEY,
    );
  });

  it('accepts a keyring alone in production, and refuses the development key in it', () => {
    expect(() => loadCryptoConfig({ ...PRODUCTION, BLIND_INDEX_KEYS: `b2:${KEY}` })).not.toThrow();
    expect(() => loadCryptoConfig({ ...PRODUCTION, BLIND_INDEX_KEYS: `b2:${KEY},dev:${DEV_BLIND_INDEX_KEY}` })).toThrow(
      /BLIND_INDEX_KEYS must not hold the development key/,
    );
  });
});
