import { FieldDecryptionError, FieldEncryption } from '../common/crypto/field-encryption';
import { ENCRYPTED_COLUMNS, EncryptedColumn } from './encrypted-columns';
import { columnNames, parseRotateKeysArgs, rotatedValue } from './key-rotation';

const OLD_KEY = Buffer.alloc(32, 0x11);
const NEW_KEY = Buffer.alloc(32, 0x22);
const OLD_BLIND = Buffer.alloc(32, 0x33);
const NEW_BLIND = Buffer.alloc(32, 0x44);

const wechat: EncryptedColumn = { table: 'users', id: ['id'], column: 'wechat_id', context: 'users.wechat_id', blindIndex: true };
const raw: EncryptedColumn = { table: 'provider_events', id: ['provider', 'event_id'], column: 'raw', context: 'provider_events.raw_body' };

const before = new FieldEncryption({ encryptionKeys: new Map([['dev1', OLD_KEY]]), activeKeyId: 'dev1', blindIndexKey: OLD_BLIND });
const during = new FieldEncryption({
  encryptionKeys: new Map([
    ['dev1', OLD_KEY],
    ['k2', NEW_KEY],
  ]),
  activeKeyId: 'k2',
  blindIndexKey: OLD_BLIND,
  blindIndexKeys: new Map([['b2', NEW_BLIND]]),
  activeBlindIndexKeyId: 'b2',
});
const after = new FieldEncryption({
  encryptionKeys: new Map([['k2', NEW_KEY]]),
  activeKeyId: 'k2',
  blindIndexKeys: new Map([['b2', NEW_BLIND]]),
});

const stored = (fe: FieldEncryption, value: string, column = wechat) => ({
  ...fe.encrypt(value, column.context),
  index: column.blindIndex ? fe.blindIndex(value, column.context) : undefined,
});

describe('rotatedValue', () => {
  it('re-encrypts under the active key and re-indexes under the active blind index key', () => {
    const next = rotatedValue(during, wechat, stored(before, 'wx_alice'))!;
    expect(next.keyId).toBe('k2');
    expect(next.index).toBe(during.blindIndex('wx_alice', wechat.context));
    // Readable, and found, once the old keys are gone.
    expect(after.decrypt(next, wechat.context)).toBe('wx_alice');
    expect(after.matchesBlindIndex('wx_alice', wechat.context, next.index!)).toBe(true);
  });

  it('leaves a current value alone, so a second run writes nothing', () => {
    const next = rotatedValue(during, wechat, stored(before, 'wx_alice'))!;
    expect(rotatedValue(during, wechat, next)).toBeUndefined();
  });

  it('re-indexes only, keeping the ciphertext, when only the blind index key changed', () => {
    const half = { ...stored(during, 'wx_bob'), index: before.blindIndex('wx_bob', wechat.context) };
    const next = rotatedValue(during, wechat, half)!;
    expect(next.ciphertext).toBe(half.ciphertext);
    expect(next.index).toBe(during.blindIndex('wx_bob', wechat.context));
  });

  it('re-encrypts only, keeping the index, when only the encryption key changed', () => {
    const half = { ...stored(before, 'wx_carol'), index: during.blindIndex('wx_carol', wechat.context) };
    const next = rotatedValue(during, wechat, half)!;
    expect(next.keyId).toBe('k2');
    expect(next.index).toBe(half.index);
  });

  it('rotates a column without a blind index and gives it none', () => {
    const next = rotatedValue(during, raw, stored(before, '{"id":"WH-1"}', raw))!;
    expect(next).toEqual({ keyId: 'k2', ciphertext: expect.any(String) });
    expect(during.decrypt(next, raw.context)).toBe('{"id":"WH-1"}');
  });

  it('refuses a value it cannot decrypt (an unknown key or the wrong context) rather than write anything', () => {
    expect(() => rotatedValue(after, wechat, stored(before, 'wx_dave'))).toThrow(FieldDecryptionError);
    expect(() => rotatedValue(during, { ...wechat, context: 'users.paypal_email' }, stored(before, 'wx_dave'))).toThrow(
      FieldDecryptionError,
    );
  });
});

describe('columnNames', () => {
  it('names the ciphertext, key id and index columns', () => {
    expect(columnNames(wechat)).toEqual({ ciphertext: 'wechat_id_ciphertext', keyId: 'wechat_id_key_id', index: 'wechat_id_index' });
    expect(columnNames(raw).index).toBeNull();
  });

  it('refuses anything that is not a plain identifier', () => {
    expect(() => columnNames({ ...wechat, table: 'users; DROP TABLE users' })).toThrow(/not a plain SQL identifier/);
    expect(() => columnNames({ ...wechat, id: ['"id"'] })).toThrow(/not a plain SQL identifier/);
    expect(() => columnNames({ ...wechat, id: [] })).toThrow(/no id column/);
  });

  it('accepts every registered column', () => {
    for (const column of ENCRYPTED_COLUMNS) expect(() => columnNames(column)).not.toThrow();
  });
});

describe('parseRotateKeysArgs', () => {
  it('defaults to a full run in batches of 500', () => {
    expect(parseRotateKeysArgs([])).toEqual({ check: false, strict: false, batchSize: 500 });
  });

  it('reads the check and batch options', () => {
    expect(parseRotateKeysArgs(['--check', '--strict'])).toEqual({ check: true, strict: true, batchSize: 500 });
    expect(parseRotateKeysArgs(['--batch-size', '50', '--max-batches', '3'])).toEqual({
      check: false,
      strict: false,
      batchSize: 50,
      maxBatches: 3,
    });
  });

  it.each([
    [['--batch-size'], /--batch-size needs a whole number/],
    [['--batch-size', '0'], /--batch-size needs a whole number/],
    [['--batch-size', '20000'], /from 1 to 10000/],
    [['--max-batches', '-1'], /--max-batches needs a whole number/],
    [['--strict'], /--strict goes with --check/],
    [['--check', '--max-batches', '1'], /--check takes no batch options/],
    [['--force'], /Unknown option "--force"/],
    [['--check', 'k2:c2VjcmV0'], /^Unexpected argument #2$/],
  ])('refuses %j', (args, message) => {
    expect(() => parseRotateKeysArgs(args)).toThrow(message);
  });
});
