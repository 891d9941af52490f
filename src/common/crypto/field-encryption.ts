import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Field-level encryption for sensitive user data (payment handles such as
 * WeChat ids and PayPal emails).
 *
 * - Values are encrypted with AES-256-GCM under a configured key. The key id is
 *   stored beside the ciphertext so keys can be rotated: new values use the
 *   active key, old values keep decrypting as long as their key stays in the
 *   keyring.
 * - A caller-supplied `context` (e.g. 'user.wechat_id') is bound as GCM
 *   additional authenticated data, so a ciphertext copied into another column
 *   fails to decrypt.
 * - A blind index (HMAC-SHA256 under a separate key) supports equality lookups
 *   without decrypting. Blind index keys have ids too: an index is stored as
 *   `keyId:hex`, except under {@link LEGACY_BLIND_INDEX_KEY_ID} (the single
 *   `BLIND_INDEX_KEY` of earlier configurations), whose indexes are bare hex.
 *   Comparisons compute under the stored index's key, so indexes made under
 *   different keys still match during a rotation (see key-rotation.ts).
 *
 * Stored ciphertext format: base64(iv (12 bytes) | tag (16 bytes) | encrypted bytes).
 */

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** The id of the single `BLIND_INDEX_KEY`: its indexes are stored as bare hex, as before key ids existed. */
export const LEGACY_BLIND_INDEX_KEY_ID = 'legacy';

/** The key id a stored blind index was computed under (`keyId:hex`, or bare hex for the legacy key). */
export function blindIndexKeyIdOf(index: string): string {
  const colon = index.indexOf(':');
  return colon < 0 ? LEGACY_BLIND_INDEX_KEY_ID : index.slice(0, colon);
}

function formatBlindIndex(keyId: string, hex: string): string {
  return keyId === LEGACY_BLIND_INDEX_KEY_ID ? hex : `${keyId}:${hex}`;
}

export interface FieldEncryptionKeys {
  /** key id -> 32-byte key. Keys are given as base64 strings in config; parse with {@link parseKeyring}. */
  encryptionKeys: ReadonlyMap<string, Buffer>;
  /** Used for new encryptions; must be present in `encryptionKeys`. */
  activeKeyId: string;
  /** The single blind index key of earlier configurations (id {@link LEGACY_BLIND_INDEX_KEY_ID}); 32 bytes, distinct from every encryption key. */
  blindIndexKey?: Buffer;
  /** key id -> 32-byte HMAC key, each distinct from every encryption key; merged with `blindIndexKey`. */
  blindIndexKeys?: ReadonlyMap<string, Buffer>;
  /** Used for new blind indexes; defaults to the legacy key when present, else to the only key. */
  activeBlindIndexKeyId?: string;
}

/** A stored value with its blind index, as in the `*_ciphertext`, `*_key_id`, `*_index` columns. */
export interface IndexedField extends EncryptedField {
  index: string;
}

export interface EncryptedField {
  keyId: string;
  /** base64(iv(12) | tag(16) | encrypted bytes) */
  ciphertext: string;
}

/** A nullable pair of `*_ciphertext` and `*_key_id` columns as read: null when there is no value (none, or erased). */
export function storedField(ciphertext: string | null, keyId: string | null): EncryptedField | null {
  return ciphertext && keyId ? { ciphertext, keyId } : null;
}

export type FieldDecryptionFailure = 'unknown_key_id' | 'malformed' | 'authentication_failed';

/**
 * Thrown by {@link FieldEncryption.decrypt}. Its message never contains the
 * plaintext or any key material.
 */
export class FieldDecryptionError extends Error {
  override readonly name = 'FieldDecryptionError';

  constructor(
    message: string,
    readonly reason: FieldDecryptionFailure,
  ) {
    super(message);
  }
}

/** Strict base64 decoding: rejects anything that is not canonical, padded base64. */
function decodeBase64Strict(value: string): Buffer | undefined {
  if (value.length === 0 || value.length % 4 !== 0) return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return undefined;
  const decoded = Buffer.from(value, 'base64');
  return decoded.toString('base64') === value ? decoded : undefined;
}

/**
 * Parses a keyring spec of the form "kid1:BASE64KEY,kid2:BASE64KEY" into a map
 * of key id -> 32-byte key. Whitespace around entries is ignored.
 *
 * Throws an Error naming the problem. Error messages never contain key
 * material; a malformed entry is referred to by its position, and an invalid
 * key id is not echoed (it could be a misplaced key).
 */
export function parseKeyring(spec: string): Map<string, Buffer> {
  if (typeof spec !== 'string' || spec.trim() === '') {
    throw new Error('Invalid keyring: the keyring spec is empty');
  }
  const keys = new Map<string, Buffer>();
  const entries = spec.split(',');
  entries.forEach((rawEntry, index) => {
    const position = `entry #${index + 1}`;
    const entry = rawEntry.trim();
    if (entry === '') {
      throw new Error(`Invalid keyring: ${position} is empty (expected "keyId:base64Key")`);
    }
    const parts = entry.split(':');
    if (parts.length !== 2) {
      throw new Error(`Invalid keyring: ${position} is malformed (expected exactly one ':' as in "keyId:base64Key")`);
    }
    const keyId = parts[0].trim();
    const encodedKey = parts[1].trim();
    if (!KEY_ID_PATTERN.test(keyId)) {
      throw new Error(`Invalid keyring: ${position} has an invalid key id (must match ${KEY_ID_PATTERN.source})`);
    }
    if (keys.has(keyId)) {
      throw new Error(`Invalid keyring: duplicate key id "${keyId}"`);
    }
    const key = decodeBase64Strict(encodedKey);
    if (key === undefined) {
      throw new Error(`Invalid keyring: key "${keyId}" is not valid (padded) base64`);
    }
    if (key.length !== KEY_BYTES) {
      throw new Error(`Invalid keyring: key "${keyId}" must be ${KEY_BYTES} bytes, got ${key.length}`);
    }
    keys.set(keyId, key);
  });
  return keys;
}

function assertContext(context: string): void {
  if (typeof context !== 'string' || context.length === 0) {
    throw new Error('Field encryption context must be a non-empty string');
  }
  if (context.includes('\u0000')) {
    throw new Error('Field encryption context must not contain NUL characters');
  }
}

export class FieldEncryption {
  private readonly keys: ReadonlyMap<string, Buffer>;
  private readonly activeKeyId: string;
  private readonly blindIndexKeys: ReadonlyMap<string, Buffer>;
  private readonly activeBlindIndexKeyId: string;

  constructor(keys: FieldEncryptionKeys) {
    if (!keys || !(keys.encryptionKeys instanceof Map)) {
      throw new Error('FieldEncryption: encryptionKeys must be a Map');
    }
    if (keys.encryptionKeys.size === 0) {
      throw new Error('FieldEncryption: no encryption keys configured');
    }
    // Copy the keys so later mutation of the caller's buffers/map has no effect.
    const copied = new Map<string, Buffer>();
    for (const [keyId, key] of keys.encryptionKeys) {
      if (typeof keyId !== 'string' || !KEY_ID_PATTERN.test(keyId)) {
        throw new Error(`FieldEncryption: invalid encryption key id (must match ${KEY_ID_PATTERN.source})`);
      }
      if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
        throw new Error(`FieldEncryption: encryption key "${keyId}" must be a ${KEY_BYTES}-byte Buffer`);
      }
      copied.set(keyId, Buffer.from(key));
    }
    if (typeof keys.activeKeyId !== 'string' || !copied.has(keys.activeKeyId)) {
      throw new Error('FieldEncryption: the active key id is not present in the encryption keys');
    }
    const blindKeys = FieldEncryption.blindKeyring(keys);
    for (const [blindId, blindKey] of blindKeys) {
      for (const [keyId, key] of copied) {
        if (timingSafeEqual(key, blindKey)) {
          const which = blindId === LEGACY_BLIND_INDEX_KEY_ID ? 'blind index key' : `blind index key "${blindId}"`;
          throw new Error(`FieldEncryption: ${which} must differ from every encryption key (it equals key "${keyId}")`);
        }
      }
    }
    const activeBlind =
      keys.activeBlindIndexKeyId ??
      (blindKeys.has(LEGACY_BLIND_INDEX_KEY_ID) ? LEGACY_BLIND_INDEX_KEY_ID : blindKeys.size === 1 ? [...blindKeys.keys()][0] : undefined);
    if (activeBlind === undefined || !blindKeys.has(activeBlind)) {
      throw new Error('FieldEncryption: the active blind index key id is not present in the blind index keys');
    }
    this.keys = copied;
    this.activeKeyId = keys.activeKeyId;
    this.blindIndexKeys = blindKeys;
    this.activeBlindIndexKeyId = activeBlind;
  }

  /** The blind index keyring: `blindIndexKeys` plus the legacy `blindIndexKey`, validated and copied. */
  private static blindKeyring(keys: FieldEncryptionKeys): Map<string, Buffer> {
    const ring = new Map<string, Buffer>();
    if (keys.blindIndexKey !== undefined) {
      if (!Buffer.isBuffer(keys.blindIndexKey) || keys.blindIndexKey.length !== KEY_BYTES) {
        throw new Error(`FieldEncryption: blind index key must be a ${KEY_BYTES}-byte Buffer`);
      }
      ring.set(LEGACY_BLIND_INDEX_KEY_ID, Buffer.from(keys.blindIndexKey));
    }
    for (const [keyId, key] of keys.blindIndexKeys ?? new Map<string, Buffer>()) {
      if (typeof keyId !== 'string' || !KEY_ID_PATTERN.test(keyId)) {
        throw new Error(`FieldEncryption: invalid blind index key id (must match ${KEY_ID_PATTERN.source})`);
      }
      if (ring.has(keyId)) throw new Error(`FieldEncryption: blind index key id "${keyId}" is given twice`);
      if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
        throw new Error(`FieldEncryption: blind index key "${keyId}" must be a ${KEY_BYTES}-byte Buffer`);
      }
      ring.set(keyId, Buffer.from(key));
    }
    if (ring.size === 0) throw new Error('FieldEncryption: no blind index key configured');
    return ring;
  }

  /** The key ids new values are encrypted and indexed under. */
  get activeKeyIds(): { encryption: string; blindIndex: string } {
    return { encryption: this.activeKeyId, blindIndex: this.activeBlindIndexKeyId };
  }

  /** Encrypts `plaintext` under the active key, binding `context` as additional authenticated data. */
  encrypt(plaintext: string, context: string): EncryptedField {
    if (typeof plaintext !== 'string') {
      throw new Error('FieldEncryption.encrypt: plaintext must be a string');
    }
    assertContext(context);
    const key = this.keys.get(this.activeKeyId) as Buffer;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, key, iv, {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const encrypted = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return {
      keyId: this.activeKeyId,
      ciphertext: Buffer.concat([iv, tag, encrypted]).toString('base64'),
    };
  }

  /**
   * Decrypts a field produced by {@link encrypt} with the same `context`.
   * Throws {@link FieldDecryptionError} on unknown key id, malformed input,
   * tampering or wrong context.
   */
  decrypt(field: EncryptedField, context: string): string {
    assertContext(context);
    if (!field || typeof field.keyId !== 'string' || typeof field.ciphertext !== 'string') {
      throw new FieldDecryptionError('Cannot decrypt field: expected { keyId, ciphertext } strings', 'malformed');
    }
    const key = this.keys.get(field.keyId);
    if (key === undefined) {
      const shown = KEY_ID_PATTERN.test(field.keyId) ? `"${field.keyId}"` : '(invalid key id)';
      throw new FieldDecryptionError(`Cannot decrypt field: unknown key id ${shown}`, 'unknown_key_id');
    }
    const raw = decodeBase64Strict(field.ciphertext);
    if (raw === undefined || raw.length < IV_BYTES + TAG_BYTES) {
      throw new FieldDecryptionError('Cannot decrypt field: ciphertext is not valid base64 of iv|tag|data', 'malformed');
    }
    const iv = raw.subarray(0, IV_BYTES);
    const tag = raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
    const encrypted = raw.subarray(IV_BYTES + TAG_BYTES);
    try {
      const decipher = createDecipheriv(ALGORITHM, key, iv, {
        authTagLength: TAG_BYTES,
      });
      decipher.setAuthTag(tag);
      decipher.setAAD(Buffer.from(context, 'utf8'));
      return Buffer.concat([decipher.update(encrypted), decipher.final()]).toString('utf8');
    } catch {
      throw new FieldDecryptionError(
        'Cannot decrypt field: authentication failed (tampered data, wrong key or wrong context)',
        'authentication_failed',
      );
    }
  }

  /**
   * Hex HMAC-SHA256 over `${context}\u0000${value}` under the active blind index key, prefixed with that
   * key's id (`keyId:hex`; bare hex under the legacy key). `value` must already be normalized by the caller
   * (see {@link normalizeEmail}, {@link normalizeWechatId}); this method does not normalize.
   */
  blindIndex(value: string, context: string): string {
    return this.blindIndexUnder(this.activeBlindIndexKeyId, value, context) as string;
  }

  /** The blind index of `value` under the given key, or undefined when that key is not configured. */
  private blindIndexUnder(keyId: string, value: string, context: string): string | undefined {
    if (typeof value !== 'string') {
      throw new Error('FieldEncryption.blindIndex: value must be a string');
    }
    assertContext(context);
    const key = this.blindIndexKeys.get(keyId);
    if (key === undefined) return undefined;
    return formatBlindIndex(keyId, createHmac('sha256', key).update(`${context}\u0000${value}`, 'utf8').digest('hex'));
  }

  /**
   * Whether the (normalized) `value` is the one a stored blind index was computed from: computed under the
   * stored index's own key, so an index made before a blind index key rotation still matches. False when
   * that key is no longer configured.
   */
  matchesBlindIndex(value: string, context: string, storedIndex: string): boolean {
    const computed = this.blindIndexUnder(blindIndexKeyIdOf(storedIndex), value, context);
    if (computed === undefined || computed.length !== storedIndex.length) return false;
    return timingSafeEqual(Buffer.from(computed), Buffer.from(storedIndex));
  }

  /**
   * Whether two stored values are equal. Under the same blind index key their indexes decide; under
   * different keys (mid-rotation) both are decrypted and compared, never shown.
   */
  sameIndexedValue(a: IndexedField, b: IndexedField, context: string): boolean {
    if (blindIndexKeyIdOf(a.index) === blindIndexKeyIdOf(b.index)) return a.index === b.index;
    return this.decrypt(a, context) === this.decrypt(b, context);
  }

  /** Whether a stored blind index was computed under the active blind index key. */
  isActiveBlindIndex(index: string): boolean {
    return blindIndexKeyIdOf(index) === this.activeBlindIndexKeyId;
  }
}

/** Emails are compared case-insensitively: trimmed and lowercased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** WeChat ids are case-insensitive: trimmed and lowercased. */
export function normalizeWechatId(id: string): string {
  return id.trim().toLowerCase();
}

function maskPart(value: string): string {
  // Count code points so surrogate pairs are never split.
  const chars = Array.from(value);
  if (chars.length <= 3) return '*'.repeat(chars.length);
  return chars.slice(0, 2).join('') + '*'.repeat(chars.length - 3) + chars[chars.length - 1];
}

/**
 * Masked form of a handle for showing a user their own handle in logs/UI.
 * Keeps the first 2 and last 1 characters and masks the rest with '*';
 * values of length <= 3 become all '*'. For emails only the local part is
 * masked and the domain is kept: 'alice@example.com' -> 'al**e@example.com'.
 */
export function maskHandle(value: string): string {
  const at = value.lastIndexOf('@');
  if (at > 0 && at < value.length - 1) {
    return `${maskPart(value.slice(0, at))}${value.slice(at)}`;
  }
  return maskPart(value);
}
