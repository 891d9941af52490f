import type { EncryptedField, FieldEncryption } from '../common/crypto/field-encryption';

/**
 * A message's text, encrypted at rest like payment handles. The context binds it to its column; it is in
 * ENCRYPTED_COLUMNS, so `rotate-keys` covers it.
 */
export const MESSAGE_CONTEXT = 'trade_messages.text';

export const MESSAGE_LIMITS = { textChars: 2000 } as const;

export const SENDER_KINDS = ['traveler', 'counterparty'] as const;
export type SenderKind = (typeof SENDER_KINDS)[number];

/** A stored message, its text decrypted: null once erased. */
export interface Message {
  id: string;
  /** The order of messages (a bigint, as a decimal string): lists' cursors. */
  seq: string;
  tradeId: string;
  sender: { kind: SenderKind; id: string };
  text: string | null;
  erased: boolean;
  createdAt: Date;
}

export function sealMessage(encryption: FieldEncryption, text: string): EncryptedField {
  return encryption.encrypt(text, MESSAGE_CONTEXT);
}

/** Throws FieldDecryptionError when the value cannot be decrypted (its key is gone, or it was tampered with). */
export function openMessage(encryption: FieldEncryption, sealed: EncryptedField | null): string | null {
  return sealed && encryption.decrypt(sealed, MESSAGE_CONTEXT);
}
