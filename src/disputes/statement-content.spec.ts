import { randomBytes } from 'node:crypto';
import { FieldDecryptionError, FieldEncryption } from '../common/crypto/field-encryption';
import { openStatement, sealStatement, STATEMENT_CONTEXT, storedAttachments } from './statement-content';

const encryption = new FieldEncryption({
  encryptionKeys: new Map([['k1', randomBytes(32)]]),
  activeKeyId: 'k1',
  blindIndexKey: randomBytes(32),
});

const receipt = { name: 'omar-receipt.png', contentType: 'image/png', sizeBytes: 10, sha256: 'a'.repeat(64) };
const invoice = { name: 'invoice.pdf', contentType: 'application/pdf', sizeBytes: 20, sha256: 'b'.repeat(64) };

describe('statement content', () => {
  it('seals the text and the attachment names, and opens them back in order', () => {
    const sealed = sealStatement(encryption, 'The RMB never arrived', [receipt, invoice]);
    expect(sealed.text?.ciphertext).not.toContain('RMB');
    expect(JSON.stringify(sealed)).not.toContain('omar-receipt');
    const stored = storedAttachments([receipt, invoice]);
    expect(JSON.stringify(stored)).not.toContain('omar-receipt');
    expect(openStatement(encryption, sealed, stored)).toEqual({ text: 'The RMB never arrived', attachments: [receipt, invoice] });
  });

  it('stores no names without attachments', () => {
    const sealed = sealStatement(encryption, 'Nothing to show', []);
    expect(sealed.attachmentNames).toBeNull();
    expect(openStatement(encryption, sealed, [])).toEqual({ text: 'Nothing to show', attachments: [] });
  });

  it('opens an erased statement as null text and unnamed attachments', () => {
    const stored = storedAttachments([receipt]);
    expect(openStatement(encryption, { text: null, attachmentNames: null }, stored)).toEqual({
      text: null,
      attachments: [{ ...receipt, name: null }],
    });
  });

  it('binds each value to its column: a text moved into the names (or back) does not decrypt', () => {
    const sealed = sealStatement(encryption, '["forged.png"]', [receipt]);
    expect(() => openStatement(encryption, { text: sealed.attachmentNames, attachmentNames: null }, [])).toThrow(FieldDecryptionError);
    expect(() => openStatement(encryption, { text: sealed.text, attachmentNames: sealed.text }, storedAttachments([receipt]))).toThrow(
      FieldDecryptionError,
    );
    expect(STATEMENT_CONTEXT.text).not.toBe(STATEMENT_CONTEXT.attachmentNames);
  });
});
