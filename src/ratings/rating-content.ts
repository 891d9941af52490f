import type { EncryptedField, FieldEncryption } from '../common/crypto/field-encryption';

/**
 * A rating's comment is the rater's personal text, encrypted at rest like dispute statements. The context binds
 * it to its column; it is in ENCRYPTED_COLUMNS, so `rotate-keys` covers it.
 */
export const RATING_COMMENT_CONTEXT = 'ratings.comment';

/** The most characters a comment may have (API.md), counted as code points: at most 2000 bytes of UTF-8. */
export const COMMENT_MAX_CHARS = 500;

export function sealComment(encryption: FieldEncryption, comment: string | null): EncryptedField | null {
  return comment === null ? null : encryption.encrypt(comment, RATING_COMMENT_CONTEXT);
}

/** The comment in clear; null when there was none or it was erased. Throws FieldDecryptionError when unreadable. */
export function openComment(encryption: FieldEncryption, sealed: EncryptedField | null): string | null {
  return sealed && encryption.decrypt(sealed, RATING_COMMENT_CONTEXT);
}
