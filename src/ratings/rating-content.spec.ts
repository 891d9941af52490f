import { randomBytes } from 'node:crypto';
import { FieldDecryptionError, FieldEncryption } from '../common/crypto/field-encryption';
import { STATEMENT_CONTEXT } from '../disputes/statement-content';
import { COMMENT_MAX_CHARS, openComment, sealComment } from './rating-content';

const encryption = new FieldEncryption({
  encryptionKeys: new Map([['k1', randomBytes(32)]]),
  activeKeyId: 'k1',
  blindIndexKey: randomBytes(32),
});

describe('rating comments', () => {
  it('seals a comment and opens it back', () => {
    const sealed = sealComment(encryption, 'Fast and friendly')!;
    expect(sealed.ciphertext).not.toContain('friendly');
    expect(openComment(encryption, sealed)).toBe('Fast and friendly');
  });

  it('stores nothing without a comment, and opens an absent or erased one as null', () => {
    expect(sealComment(encryption, null)).toBeNull();
    expect(openComment(encryption, null)).toBeNull();
  });

  it('fits the longest comment, 500 code points of 4 bytes each, within the column’s bound', () => {
    const sealed = sealComment(encryption, '😀'.repeat(COMMENT_MAX_CHARS))!;
    // ratings_comment_length in the Ratings migration.
    expect(Buffer.byteLength(sealed.ciphertext)).toBe(2704);
  });

  it('counts a variation selector as a code point of its own: no 500 code points are more than 2000 bytes', () => {
    // '❤️' and '😀\uFE0F' are 2 code points of 6 and 7 bytes: 250 of them is the most a comment takes.
    for (const unit of ['❤️', '😀\uFE0F', 'a\uFE0E']) {
      const longest = unit.repeat(COMMENT_MAX_CHARS / 2);
      expect([...longest].length).toBe(COMMENT_MAX_CHARS);
      expect(Buffer.byteLength(longest)).toBeLessThanOrEqual(4 * COMMENT_MAX_CHARS);
      expect(Buffer.byteLength(sealComment(encryption, longest)!.ciphertext)).toBeLessThanOrEqual(2704);
    }
  });

  it('refuses a ciphertext copied from another column', () => {
    const statement = encryption.encrypt('Copied across', STATEMENT_CONTEXT.text);
    expect(() => openComment(encryption, statement)).toThrow(FieldDecryptionError);
  });
});
