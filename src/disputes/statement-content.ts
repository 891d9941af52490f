import type { EncryptedField, FieldEncryption } from '../common/crypto/field-encryption';
import type { Attachment } from './dispute.types';

/**
 * A statement's personal text, encrypted at rest like payment handles: its text, and its attachments' file names
 * ("omar-receipt.png") as one JSON array beside it. The contexts bind each to its column; both are in
 * ENCRYPTED_COLUMNS, so `rotate-keys` covers them. The attachments' other fields (type, size, hash) stay in clear.
 */
export const STATEMENT_CONTEXT = {
  text: 'dispute_statements.text',
  attachmentNames: 'dispute_statements.attachment_names',
} as const;

/** An attachment as stored: its name is in the statement's encrypted names. */
export type StoredAttachment = Omit<Attachment, 'name'>;

/** As in the `text_*` and `attachment_names_*` columns: both null once erased; the names null without attachments. */
export interface SealedStatement {
  text: EncryptedField | null;
  attachmentNames: EncryptedField | null;
}

export function sealStatement(
  encryption: FieldEncryption,
  text: string,
  attachments: Attachment[],
): SealedStatement & { text: EncryptedField } {
  const names = attachments.map((a) => a.name);
  return {
    text: encryption.encrypt(text, STATEMENT_CONTEXT.text),
    attachmentNames: names.length === 0 ? null : encryption.encrypt(JSON.stringify(names), STATEMENT_CONTEXT.attachmentNames),
  };
}

/** The attachments without their names, in the order of the sealed names. */
export function storedAttachments(attachments: Attachment[]): StoredAttachment[] {
  return attachments.map((a) => ({ contentType: a.contentType, sizeBytes: a.sizeBytes, sha256: a.sha256 }));
}

/**
 * The text and the named attachments of a stored statement: null text and null names once erased. Throws
 * FieldDecryptionError when a value cannot be decrypted (its key is gone, or it was tampered with).
 */
export function openStatement(
  encryption: FieldEncryption,
  sealed: SealedStatement,
  stored: StoredAttachment[],
): { text: string | null; attachments: Attachment[] } {
  const text = sealed.text && encryption.decrypt(sealed.text, STATEMENT_CONTEXT.text);
  const names: unknown = sealed.attachmentNames
    ? JSON.parse(encryption.decrypt(sealed.attachmentNames, STATEMENT_CONTEXT.attachmentNames))
    : [];
  const list = Array.isArray(names) ? names : [];
  return {
    text,
    attachments: stored.map((a, i) => ({
      name: typeof list[i] === 'string' ? (list[i] as string) : null,
      contentType: a.contentType,
      sizeBytes: a.sizeBytes,
      sha256: a.sha256,
    })),
  };
}
