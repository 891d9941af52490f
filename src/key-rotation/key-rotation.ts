import { EncryptedField, FieldEncryption } from '../common/crypto/field-encryption';
import type { EncryptedColumn } from './encrypted-columns';

/** The pure parts of key rotation: column names, what a stored value becomes, the command's arguments. */

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

export interface ColumnNames {
  ciphertext: string;
  keyId: string;
  /** null when the column has no blind index. */
  index: string | null;
}

/** The SQL column names of an encrypted column; refuses anything that is not a plain lower-case identifier. */
export function columnNames(column: EncryptedColumn): ColumnNames {
  for (const name of [column.table, column.column, ...column.id]) {
    if (!IDENTIFIER.test(name)) throw new Error(`Encrypted column: "${name}" is not a plain SQL identifier`);
  }
  if (column.id.length === 0) throw new Error(`Encrypted column ${column.table}.${column.column}: no id column`);
  return {
    ciphertext: `${column.column}_ciphertext`,
    keyId: `${column.column}_key_id`,
    index: column.blindIndex ? `${column.column}_index` : null,
  };
}

export function columnLabel(column: EncryptedColumn): string {
  return `${column.table}.${column.column}`;
}

export interface StoredValue extends EncryptedField {
  /** The blind index beside it; null or absent when the column has none. */
  index?: string | null;
}

/**
 * What a stored value becomes under the active keys: re-encrypted when its key id is not the active one,
 * its blind index recomputed when not under the active blind index key (from the decrypted value, which
 * is stored normalized). Undefined when it is current already. Throws FieldDecryptionError when the value
 * cannot be decrypted (its key is gone, or it was tampered with).
 */
export function rotatedValue(encryption: FieldEncryption, column: EncryptedColumn, value: StoredValue): StoredValue | undefined {
  const active = encryption.activeKeyIds;
  const reencrypt = value.keyId !== active.encryption;
  const reindex = column.blindIndex === true && (value.index == null || !encryption.isActiveBlindIndex(value.index));
  if (!reencrypt && !reindex) return undefined;
  const plaintext = encryption.decrypt(value, column.context);
  const sealed = reencrypt ? encryption.encrypt(plaintext, column.context) : { keyId: value.keyId, ciphertext: value.ciphertext };
  if (!column.blindIndex) return sealed;
  return { ...sealed, index: reindex ? encryption.blindIndex(plaintext, column.context) : value.index };
}

export interface RotateKeysArgs {
  check: boolean;
  /** With `check`: exit 1 when any value is not under the active keys. */
  strict: boolean;
  batchSize: number;
  /** Stop after this many batches in all (the rest on the next run); undefined: run to the end. */
  maxBatches?: number;
}

export const ROTATE_KEYS_USAGE = 'npm run cli -- rotate-keys [--batch-size N] [--max-batches N] | rotate-keys --check [--strict]';

export const DEFAULT_BATCH_SIZE = 500;

/** Parses `rotate-keys` arguments; throws an Error naming the problem. */
export function parseRotateKeysArgs(args: readonly string[]): RotateKeysArgs {
  const parsed: RotateKeysArgs = { check: false, strict: false, batchSize: DEFAULT_BATCH_SIZE };
  const count = (flag: string, value: string | undefined, max: number): number => {
    if (value === undefined || !/^[1-9]\d{0,6}$/.test(value) || Number(value) > max) {
      throw new Error(`${flag} needs a whole number from 1 to ${max}`);
    }
    return Number(value);
  };
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i];
    if (arg === '--check') parsed.check = true;
    else if (arg === '--strict') parsed.strict = true;
    else if (arg === '--batch-size') parsed.batchSize = count(arg, args[++i], 10000);
    else if (arg === '--max-batches') parsed.maxBatches = count(arg, args[++i], 1000000);
    // Only a flag is echoed: anything else could be a key pasted in the wrong place.
    else throw new Error(/^--[a-z-]{1,30}$/.test(arg) ? `Unknown option "${arg}"` : `Unexpected argument #${i + 1}`);
  }
  if (parsed.strict && !parsed.check) throw new Error('--strict goes with --check');
  if (parsed.check && (parsed.maxBatches !== undefined || args.includes('--batch-size'))) {
    throw new Error('--check takes no batch options');
  }
  return parsed;
}
