import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  EncryptedField,
  FieldDecryptionError,
  FieldEncryption,
  FieldEncryptionKeys,
  maskHandle,
  normalizeEmail,
  normalizeWechatId,
  parseKeyring,
  storedField,
} from './field-encryption';

const WECHAT = 'user.wechat_id';
const PAYPAL = 'user.paypal_email';

// Fixed, distinct test keys.
const KEY_A = Buffer.alloc(32, 0xa1);
const KEY_B = Buffer.alloc(32, 0xb2);
const BLIND = Buffer.alloc(32, 0xc3);

function makeKeys(overrides: Partial<FieldEncryptionKeys> = {}): FieldEncryptionKeys {
  return {
    encryptionKeys: new Map([['k1', KEY_A]]),
    activeKeyId: 'k1',
    blindIndexKey: BLIND,
    ...overrides,
  };
}

function decodeParts(field: EncryptedField) {
  const raw = Buffer.from(field.ciphertext, 'base64');
  return {
    raw,
    iv: raw.subarray(0, 12),
    tag: raw.subarray(12, 28),
    data: raw.subarray(28),
  };
}

function flipByte(field: EncryptedField, index: number): EncryptedField {
  const raw = Buffer.from(field.ciphertext, 'base64');
  raw[index] ^= 0x01;
  return { ...field, ciphertext: raw.toString('base64') };
}

/** Changes unused trailing bits of padded base64: decodes to the same bytes leniently, but is not canonical. */
function nonCanonicalBase64(b64: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const i = b64.replace(/=+$/, '').length - 1;
  const changed = alphabet[alphabet.indexOf(b64[i]) ^ 1];
  const result = b64.slice(0, i) + changed + b64.slice(i + 1);
  // Guard: Node's lenient decoder yields the same bytes for both forms.
  expect(Buffer.from(result, 'base64').equals(Buffer.from(b64, 'base64'))).toBe(true);
  expect(result).not.toBe(b64);
  return result;
}

/** Runs fn, asserts it throws, and returns the thrown error for inspection. */
function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    return err as Error;
  }
  throw new Error('expected function to throw');
}

describe('FieldEncryption', () => {
  describe('encrypt / decrypt', () => {
    it('round-trips a value and records the active key id', () => {
      const fe = new FieldEncryption(makeKeys());
      const field = fe.encrypt('wx_alice99', WECHAT);
      expect(field.keyId).toBe('k1');
      expect(field.ciphertext).not.toContain('wx_alice99');
      expect(fe.decrypt(field, WECHAT)).toBe('wx_alice99');
    });

    it('round-trips empty and non-ASCII values', () => {
      const fe = new FieldEncryption(makeKeys());
      for (const value of ['', '\u4f60\u597d\u5fae\u4fe1', 'emoji \u{1F600} bob@example.com']) {
        expect(fe.decrypt(fe.encrypt(value, PAYPAL), PAYPAL)).toBe(value);
      }
    });

    it('round-trips arbitrary strings (property)', () => {
      const fe = new FieldEncryption(makeKeys());
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (value) => {
          expect(fe.decrypt(fe.encrypt(value, WECHAT), WECHAT)).toBe(value);
        }),
        { numRuns: 200 },
      );
    });

    it('produces base64(iv(12) | tag(16) | data) with data as long as the UTF-8 plaintext', () => {
      const fe = new FieldEncryption(makeKeys());
      const value = 'bob@example.com';
      const field = fe.encrypt(value, PAYPAL);
      const { raw, data } = decodeParts(field);
      expect(raw.toString('base64')).toBe(field.ciphertext);
      expect(raw.length).toBe(12 + 16 + Buffer.byteLength(value, 'utf8'));
      expect(data.length).toBe(Buffer.byteLength(value, 'utf8'));
    });

    it('decrypts a ciphertext built independently per the documented format (AAD = context)', () => {
      const fe = new FieldEncryption(makeKeys());
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', KEY_A, iv);
      cipher.setAAD(Buffer.from(WECHAT, 'utf8'));
      const data = Buffer.concat([cipher.update('wx_carol', 'utf8'), cipher.final()]);
      const ciphertext = Buffer.concat([iv, cipher.getAuthTag(), data]).toString('base64');
      expect(fe.decrypt({ keyId: 'k1', ciphertext }, WECHAT)).toBe('wx_carol');
    });

    it('uses a random IV: encrypting the same value twice gives different ciphertexts', () => {
      const fe = new FieldEncryption(makeKeys());
      const a = fe.encrypt('wx_alice99', WECHAT);
      const b = fe.encrypt('wx_alice99', WECHAT);
      expect(a.ciphertext).not.toBe(b.ciphertext);
      expect(decodeParts(a).iv.equals(decodeParts(b).iv)).toBe(false);
      expect(fe.decrypt(a, WECHAT)).toBe('wx_alice99');
      expect(fe.decrypt(b, WECHAT)).toBe('wx_alice99');
    });

    it('is not affected by later mutation of the caller-supplied key buffers', () => {
      const keyA = Buffer.from(KEY_A);
      const fe = new FieldEncryption(makeKeys({ encryptionKeys: new Map([['k1', keyA]]) }));
      const field = fe.encrypt('wx_alice99', WECHAT);
      keyA.fill(0);
      expect(fe.decrypt(field, WECHAT)).toBe('wx_alice99');
    });
  });

  describe('key rotation', () => {
    it('still decrypts values encrypted under the old key after a new active key is added', () => {
      const before = new FieldEncryption(makeKeys());
      const old = before.encrypt('bob@example.com', PAYPAL);
      expect(old.keyId).toBe('k1');

      const after = new FieldEncryption(
        makeKeys({
          encryptionKeys: new Map([
            ['k1', KEY_A],
            ['k2', KEY_B],
          ]),
          activeKeyId: 'k2',
        }),
      );
      expect(after.decrypt(old, PAYPAL)).toBe('bob@example.com');

      const fresh = after.encrypt('bob@example.com', PAYPAL);
      expect(fresh.keyId).toBe('k2');
      expect(after.decrypt(fresh, PAYPAL)).toBe('bob@example.com');
      // The old instance does not know k2.
      expect(() => before.decrypt(fresh, PAYPAL)).toThrow(FieldDecryptionError);
    });

    it('fails if the key id is swapped to another known key', () => {
      const fe = new FieldEncryption(
        makeKeys({
          encryptionKeys: new Map([
            ['k1', KEY_A],
            ['k2', KEY_B],
          ]),
        }),
      );
      const field = fe.encrypt('wx_alice99', WECHAT);
      const err = catchError(() => fe.decrypt({ ...field, keyId: 'k2' }, WECHAT));
      expect(err).toBeInstanceOf(FieldDecryptionError);
      expect((err as FieldDecryptionError).reason).toBe('authentication_failed');
    });
  });

  describe('decryption failures', () => {
    const plaintext = 'wx_secret_handle';
    const fe = new FieldEncryption(makeKeys());
    const field = fe.encrypt(plaintext, WECHAT);

    function expectDecryptFailure(f: EncryptedField, context: string, reason: FieldDecryptionError['reason']): FieldDecryptionError {
      const err = catchError(() => fe.decrypt(f, context));
      expect(err).toBeInstanceOf(FieldDecryptionError);
      expect(err.name).toBe('FieldDecryptionError');
      expect((err as FieldDecryptionError).reason).toBe(reason);
      expect(err.message).not.toContain(plaintext);
      return err as FieldDecryptionError;
    }

    it.each([
      ['iv', 0],
      ['iv (last byte)', 11],
      ['tag', 12],
      ['tag (last byte)', 27],
      ['encrypted data', 28],
      ['encrypted data (last byte)', 12 + 16 + plaintext.length - 1],
    ])('rejects a flipped bit in the %s', (_part, index) => {
      expectDecryptFailure(flipByte(field, index), WECHAT, 'authentication_failed');
    });

    it('rejects truncated encrypted data', () => {
      const raw = Buffer.from(field.ciphertext, 'base64');
      const truncated = {
        ...field,
        ciphertext: raw.subarray(0, raw.length - 1).toString('base64'),
      };
      expectDecryptFailure(truncated, WECHAT, 'authentication_failed');
    });

    it('rejects appended bytes', () => {
      const raw = Buffer.concat([Buffer.from(field.ciphertext, 'base64'), Buffer.from([0])]);
      expectDecryptFailure({ ...field, ciphertext: raw.toString('base64') }, WECHAT, 'authentication_failed');
    });

    it('rejects ciphertext shorter than iv + tag', () => {
      const short = {
        ...field,
        ciphertext: Buffer.alloc(27).toString('base64'),
      };
      expectDecryptFailure(short, WECHAT, 'malformed');
    });

    it('rejects non-base64 ciphertext', () => {
      expectDecryptFailure({ ...field, ciphertext: '!!not base64!!' }, WECHAT, 'malformed');
      expectDecryptFailure({ ...field, ciphertext: '' }, WECHAT, 'malformed');
    });

    it('rejects non-canonical base64 ciphertext', () => {
      expect(field.ciphertext).toMatch(/=$/);
      expectDecryptFailure({ ...field, ciphertext: nonCanonicalBase64(field.ciphertext) }, WECHAT, 'malformed');
    });

    it('rejects a ciphertext decrypted under a different context (copied column)', () => {
      expectDecryptFailure(field, PAYPAL, 'authentication_failed');
      expectDecryptFailure(field, `${WECHAT} `, 'authentication_failed');
      // Sanity: the right context still works.
      expect(fe.decrypt(field, WECHAT)).toBe(plaintext);
    });

    it('rejects an unknown key id and names it', () => {
      const err = expectDecryptFailure({ ...field, keyId: 'retired' }, WECHAT, 'unknown_key_id');
      expect(err.message).toContain('retired');
    });

    it('does not echo a malformed key id', () => {
      const err = expectDecryptFailure({ ...field, keyId: 'bad id\n<script>' }, WECHAT, 'unknown_key_id');
      expect(err.message).not.toContain('<script>');
    });
  });

  describe('blindIndex', () => {
    const fe = new FieldEncryption(makeKeys());

    it('is the hex HMAC-SHA256 of `${context}\\0${value}` under the blind index key', () => {
      const expected = createHmac('sha256', BLIND).update(`${WECHAT}\u0000wx_alice99`, 'utf8').digest('hex');
      expect(fe.blindIndex('wx_alice99', WECHAT)).toBe(expected);
      expect(fe.blindIndex('wx_alice99', WECHAT)).toMatch(/^[0-9a-f]{64}$/);
    });

    it('is deterministic, including across instances with the same blind index key', () => {
      const other = new FieldEncryption(
        makeKeys({
          encryptionKeys: new Map([['k9', KEY_B]]),
          activeKeyId: 'k9',
        }),
      );
      expect(fe.blindIndex('wx_alice99', WECHAT)).toBe(fe.blindIndex('wx_alice99', WECHAT));
      expect(other.blindIndex('wx_alice99', WECHAT)).toBe(fe.blindIndex('wx_alice99', WECHAT));
    });

    it('differs per value and per context', () => {
      expect(fe.blindIndex('wx_alice99', WECHAT)).not.toBe(fe.blindIndex('wx_alice98', WECHAT));
      expect(fe.blindIndex('alice', WECHAT)).not.toBe(fe.blindIndex('alice', PAYPAL));
    });

    it('uses the NUL separator for domain separation between context and value', () => {
      // Without a separator, ("user.a", "bc") and ("user.ab", "c") would collide.
      expect(fe.blindIndex('bc', 'user.a')).not.toBe(fe.blindIndex('c', 'user.ab'));
    });

    it('rejects contexts that would break domain separation', () => {
      expect(() => fe.blindIndex('x', '')).toThrow(/context/);
      expect(() => fe.blindIndex('x', 'user.a\u0000b')).toThrow(/NUL/);
    });

    it('differs with a different blind index key', () => {
      const other = new FieldEncryption(makeKeys({ blindIndexKey: Buffer.alloc(32, 0xd4) }));
      expect(other.blindIndex('wx_alice99', WECHAT)).not.toBe(fe.blindIndex('wx_alice99', WECHAT));
    });

    it('is equal for case/whitespace variants after normalization', () => {
      expect(fe.blindIndex(normalizeEmail('  Bob@Example.COM '), PAYPAL)).toBe(fe.blindIndex(normalizeEmail('bob@example.com'), PAYPAL));
      expect(fe.blindIndex(normalizeWechatId('WX_Alice99\t'), WECHAT)).toBe(fe.blindIndex(normalizeWechatId('wx_alice99'), WECHAT));
      // ... but does not normalize on its own.
      expect(fe.blindIndex('Bob@Example.com', PAYPAL)).not.toBe(fe.blindIndex('bob@example.com', PAYPAL));
    });

    it('differs from any encryption output and does not use an encryption key', () => {
      const value = 'wx_alice99';
      const index = fe.blindIndex(value, WECHAT);
      const field = fe.encrypt(value, WECHAT);
      const { raw, data } = decodeParts(field);
      expect(index).not.toBe(field.ciphertext);
      expect(index).not.toBe(raw.toString('hex'));
      expect(raw.toString('hex')).not.toContain(index);
      expect(index).not.toContain(data.toString('hex'));
      expect(index).not.toContain(Buffer.from(value).toString('hex'));
      // Not an HMAC under the encryption key.
      const underEncKey = createHmac('sha256', KEY_A).update(`${WECHAT}\u0000${value}`, 'utf8').digest('hex');
      expect(index).not.toBe(underEncKey);
    });
  });

  describe('constructor validation', () => {
    it('accepts a valid configuration', () => {
      expect(new FieldEncryption(makeKeys())).toBeInstanceOf(FieldEncryption);
    });

    it('rejects an active key id that is not in the keyring', () => {
      expect(() => new FieldEncryption(makeKeys({ activeKeyId: 'k2' }))).toThrow(/active key id/);
    });

    it('rejects an empty keyring', () => {
      expect(() => new FieldEncryption(makeKeys({ encryptionKeys: new Map() }))).toThrow(/no encryption keys/);
    });

    it.each([
      ['16-byte', Buffer.alloc(16, 1)],
      ['33-byte', Buffer.alloc(33, 1)],
      ['empty', Buffer.alloc(0)],
    ])('rejects a %s encryption key (also when not active)', (_label, bad) => {
      const keys = new Map([
        ['k1', KEY_A],
        ['old', bad],
      ]);
      expect(() => new FieldEncryption(makeKeys({ encryptionKeys: keys }))).toThrow(/"old" must be a 32-byte Buffer/);
    });

    it('rejects a non-Buffer encryption key', () => {
      const keys = new Map([['k1', 'a'.repeat(32) as unknown as Buffer]]);
      expect(() => new FieldEncryption(makeKeys({ encryptionKeys: keys }))).toThrow(/32-byte Buffer/);
    });

    it('rejects an invalid key id in the map', () => {
      const keys = new Map([['bad id!', KEY_A]]);
      expect(() => new FieldEncryption(makeKeys({ encryptionKeys: keys, activeKeyId: 'bad id!' }))).toThrow(/invalid encryption key id/);
    });

    it.each([
      ['31-byte', Buffer.alloc(31, 2)],
      ['64-byte', Buffer.alloc(64, 2)],
    ])('rejects a %s blind index key', (_label, bad) => {
      expect(() => new FieldEncryption(makeKeys({ blindIndexKey: bad }))).toThrow(/blind index key must be a 32-byte/);
    });

    it('rejects a blind index key equal to any encryption key (including inactive ones)', () => {
      const keys = new Map([
        ['k1', KEY_A],
        ['k0', KEY_B],
      ]);
      const err = catchError(
        () =>
          new FieldEncryption(
            makeKeys({
              encryptionKeys: keys,
              blindIndexKey: Buffer.from(KEY_B),
            }),
          ),
      );
      expect(err.message).toMatch(/blind index key must differ/);
      expect(err.message).toContain('"k0"');
      expect(err.message).not.toContain(KEY_B.toString('base64'));
      expect(err.message).not.toContain(KEY_B.toString('hex'));
    });
  });
});

describe('parseKeyring', () => {
  const b64A = KEY_A.toString('base64');
  const b64B = KEY_B.toString('base64');

  it('parses a single key', () => {
    const ring = parseKeyring(`k1:${b64A}`);
    expect([...ring.keys()]).toEqual(['k1']);
    expect(ring.get('k1')?.equals(KEY_A)).toBe(true);
  });

  it('parses several keys, ignoring surrounding whitespace', () => {
    const ring = parseKeyring(` k1:${b64A} , key_2-B:${b64B} `);
    expect(ring.size).toBe(2);
    expect(ring.get('k1')?.equals(KEY_A)).toBe(true);
    expect(ring.get('key_2-B')?.equals(KEY_B)).toBe(true);
  });

  it('accepts a 32-character key id', () => {
    const id = 'a'.repeat(32);
    expect(parseKeyring(`${id}:${b64A}`).has(id)).toBe(true);
  });

  it('produces a keyring usable by FieldEncryption', () => {
    const fe = new FieldEncryption({
      encryptionKeys: parseKeyring(`old:${b64B},new:${b64A}`),
      activeKeyId: 'new',
      blindIndexKey: BLIND,
    });
    const field = fe.encrypt('bob@example.com', PAYPAL);
    expect(field.keyId).toBe('new');
    expect(fe.decrypt(field, PAYPAL)).toBe('bob@example.com');
  });

  const secret = randomBytes(32);
  const secretB64 = secret.toString('base64');
  const short = randomBytes(16).toString('base64');
  const long = randomBytes(48).toString('base64');

  it.each<[string, string, RegExp, string[]]>([
    ['empty spec', '', /empty/, []],
    ['whitespace spec', '   ', /empty/, []],
    ['empty entry', `k1:${secretB64},`, /entry #2 is empty/, [secretB64]],
    ['missing colon', `k1${secretB64}`, /entry #1 is malformed/, [secretB64]],
    ['key material only', secretB64, /entry #1 is malformed/, [secretB64]],
    ['too many colons', `k1:${secretB64}:extra`, /entry #1 is malformed/, [secretB64]],
    ['empty key id', `:${secretB64}`, /invalid key id/, [secretB64]],
    ['key id with invalid characters', `k 1:${secretB64}`, /invalid key id/, [secretB64]],
    ['key id too long', `${'a'.repeat(33)}:${secretB64}`, /invalid key id/, [secretB64]],
    // Key and id swapped: the "id" is the key material and must not be echoed.
    ['swapped id and key', `${secretB64}:k1`, /invalid key id/, [secretB64, secretB64.slice(0, 20)]],
    ['duplicate key id', `k1:${secretB64},k1:${b64B}`, /duplicate key id "k1"/, [secretB64, b64B]],
    ['invalid base64', `k1:${secretB64.slice(0, -4)}!!!!`, /not valid \(padded\) base64/, [secretB64.slice(0, -4)]],
    ['unpadded base64', `k1:${secretB64.replace(/=+$/, '')}`, /not valid \(padded\) base64/, [secretB64.replace(/=+$/, '')]],
    ['empty key', 'k1:', /not valid \(padded\) base64/, []],
    ['non-canonical base64', `k1:${nonCanonicalBase64(secretB64)}`, /not valid \(padded\) base64/, [nonCanonicalBase64(secretB64)]],
    ['16-byte key', `k1:${short}`, /"k1" must be 32 bytes, got 16/, [short]],
    ['48-byte key', `k1:${long}`, /"k1" must be 32 bytes, got 48/, [long]],
  ])('rejects %s without leaking key material', (_label, spec, expected, secrets) => {
    const err = catchError(() => parseKeyring(spec));
    expect(err.message).toMatch(expected);
    for (const s of [...secrets, secret.toString('hex')]) {
      expect(err.message).not.toContain(s);
    }
  });
});

describe('normalizeEmail / normalizeWechatId', () => {
  it('trims and lowercases emails', () => {
    expect(normalizeEmail('  Alice.Smith@Example.COM\n')).toBe('alice.smith@example.com');
    expect(normalizeEmail('bob@example.com')).toBe('bob@example.com');
  });

  it('trims and lowercases WeChat ids', () => {
    expect(normalizeWechatId('\tWX_Alice99 ')).toBe('wx_alice99');
    expect(normalizeWechatId('wxid_abc')).toBe('wxid_abc');
  });

  it('is idempotent (property)', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(normalizeEmail(normalizeEmail(s))).toBe(normalizeEmail(s));
        expect(normalizeWechatId(normalizeWechatId(s))).toBe(normalizeWechatId(s));
      }),
    );
  });
});

describe('maskHandle', () => {
  it.each([
    ['wx_alice99', 'wx*******9'],
    ['alice@example.com', 'al**e@example.com'],
    ['abcd', 'ab*d'],
    ['abc', '***'],
    ['ab', '**'],
    ['a', '*'],
    ['', ''],
    ['bob@example.com', '***@example.com'],
    ['ab@example.com', '**@example.com'],
    ['john.doe@mail.example.org', 'jo*****e@mail.example.org'],
    ['a@b@example.com', '***@example.com'],
    ['@handle', '@h****e'],
    ['handle@', 'ha****@'],
    ['\u5fae\u4fe1\u7528\u6237\u540d', '\u5fae\u4fe1**\u540d'],
    ['\u{1F600}\u{1F601}\u{1F602}\u{1F603}\u{1F604}', '\u{1F600}\u{1F601}**\u{1F604}'],
  ])('masks %j as %j', (input, expected) => {
    expect(maskHandle(input)).toBe(expected);
  });

  it('never reveals more than the first 2 and last 1 characters of a non-email value (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 4 }).filter((s) => !s.includes('@')),
        (s) => {
          const masked = maskHandle(s);
          const chars = Array.from(s);
          const out = Array.from(masked);
          expect(out.length).toBe(chars.length);
          expect(out.slice(2, -1).every((c) => c === '*')).toBe(true);
          expect(out.slice(0, 2)).toEqual(chars.slice(0, 2));
          expect(out[out.length - 1]).toBe(chars[chars.length - 1]);
        },
      ),
    );
  });
});

describe('storedField', () => {
  it('reads a value from its two columns, and none when either is null (never written, or erased)', () => {
    expect(storedField('Y2lwaGVy', 'k1')).toEqual({ ciphertext: 'Y2lwaGVy', keyId: 'k1' });
    expect(storedField(null, null)).toBeNull();
    expect(storedField('Y2lwaGVy', null)).toBeNull();
    expect(storedField(null, 'k1')).toBeNull();
  });
});
