import { createHmac } from 'node:crypto';
import { blindIndexKeyIdOf, FieldEncryption, IndexedField, LEGACY_BLIND_INDEX_KEY_ID } from './field-encryption';

const WECHAT = 'users.wechat_id';
const KEY_A = Buffer.alloc(32, 0xa1);
const OLD_BLIND = Buffer.alloc(32, 0xc3);
const NEW_BLIND = Buffer.alloc(32, 0xd4);

const hmac = (key: Buffer, value: string) => createHmac('sha256', key).update(`${WECHAT}\u0000${value}`, 'utf8').digest('hex');

function encryption(blind: { legacy?: Buffer; keys?: [string, Buffer][]; active?: string }) {
  return new FieldEncryption({
    encryptionKeys: new Map([['k1', KEY_A]]),
    activeKeyId: 'k1',
    blindIndexKey: blind.legacy,
    blindIndexKeys: blind.keys && new Map(blind.keys),
    activeBlindIndexKeyId: blind.active,
  });
}

function sealed(fe: FieldEncryption, value: string): IndexedField {
  return { ...fe.encrypt(value, WECHAT), index: fe.blindIndex(value, WECHAT) };
}

describe('blind index key ids', () => {
  const before = encryption({ legacy: OLD_BLIND });
  const during = encryption({ legacy: OLD_BLIND, keys: [['b2', NEW_BLIND]], active: 'b2' });
  const after = encryption({ keys: [['b2', NEW_BLIND]] });

  it('keeps the legacy key’s indexes as bare hex, as stored before key ids', () => {
    expect(before.blindIndex('wx_alice', WECHAT)).toBe(hmac(OLD_BLIND, 'wx_alice'));
    expect(before.activeKeyIds.blindIndex).toBe(LEGACY_BLIND_INDEX_KEY_ID);
  });

  it('prefixes other keys’ indexes with their key id', () => {
    expect(during.blindIndex('wx_alice', WECHAT)).toBe(`b2:${hmac(NEW_BLIND, 'wx_alice')}`);
    expect(after.blindIndex('wx_alice', WECHAT)).toBe(during.blindIndex('wx_alice', WECHAT));
  });

  it('reads the key id of a stored index', () => {
    expect(blindIndexKeyIdOf(hmac(OLD_BLIND, 'x'))).toBe('legacy');
    expect(blindIndexKeyIdOf(`b2:${hmac(NEW_BLIND, 'x')}`)).toBe('b2');
  });

  it('matches a value against an index made under any configured key, and only the same value', () => {
    const old = before.blindIndex('wx_alice', WECHAT);
    const fresh = during.blindIndex('wx_alice', WECHAT);
    expect(during.matchesBlindIndex('wx_alice', WECHAT, old)).toBe(true);
    expect(during.matchesBlindIndex('wx_alice', WECHAT, fresh)).toBe(true);
    expect(during.matchesBlindIndex('wx_bob', WECHAT, old)).toBe(false);
    expect(during.matchesBlindIndex('wx_bob', WECHAT, fresh)).toBe(false);
    expect(during.matchesBlindIndex('wx_alice', 'users.paypal_email', fresh)).toBe(false);
  });

  it('matches nothing under a key no longer configured', () => {
    expect(after.matchesBlindIndex('wx_alice', WECHAT, before.blindIndex('wx_alice', WECHAT))).toBe(false);
    expect(after.matchesBlindIndex('wx_alice', WECHAT, 'gone:00')).toBe(false);
  });

  it('finds two stored values equal when their indexes were made under different keys', () => {
    const travelerOld = sealed(before, 'wx_alice');
    const counterpartyNew = sealed(during, 'wx_alice');
    expect(travelerOld.index).not.toBe(counterpartyNew.index);
    expect(during.sameIndexedValue(travelerOld, counterpartyNew, WECHAT)).toBe(true);
    expect(during.sameIndexedValue(counterpartyNew, travelerOld, WECHAT)).toBe(true);
    expect(during.sameIndexedValue(travelerOld, sealed(during, 'wx_bob'), WECHAT)).toBe(false);
    expect(during.sameIndexedValue(sealed(during, 'wx_alice'), counterpartyNew, WECHAT)).toBe(true);
    expect(during.sameIndexedValue(sealed(during, 'wx_carol'), counterpartyNew, WECHAT)).toBe(false);
  });

  it('tells whether an index is under the active key', () => {
    expect(during.isActiveBlindIndex(before.blindIndex('x', WECHAT))).toBe(false);
    expect(during.isActiveBlindIndex(during.blindIndex('x', WECHAT))).toBe(true);
  });

  it('defaults the active blind index key to the legacy key, else the only key, else refuses', () => {
    expect(encryption({ legacy: OLD_BLIND, keys: [['b2', NEW_BLIND]] }).activeKeyIds.blindIndex).toBe('legacy');
    expect(after.activeKeyIds.blindIndex).toBe('b2');
    expect(() =>
      encryption({
        keys: [
          ['b1', OLD_BLIND],
          ['b2', NEW_BLIND],
        ],
      }),
    ).toThrow(/active blind index key id/);
    expect(() => encryption({ keys: [['b2', NEW_BLIND]], active: 'b3' })).toThrow(/active blind index key id/);
  });

  it('refuses no blind index key, a duplicate legacy id, a short key and a key equal to an encryption key', () => {
    expect(() => encryption({})).toThrow(/no blind index key/);
    expect(() => encryption({ legacy: OLD_BLIND, keys: [['legacy', NEW_BLIND]] })).toThrow(/"legacy" is given twice/);
    expect(() => encryption({ keys: [['b2', Buffer.alloc(16)]] })).toThrow(/"b2" must be a 32-byte Buffer/);
    const err = (() => {
      try {
        encryption({ keys: [['b2', KEY_A]] });
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected a refusal');
    })();
    expect(err.message).toMatch(/blind index key "b2" must differ from every encryption key/);
    expect(err.message).not.toContain(KEY_A.toString('base64'));
  });
});
