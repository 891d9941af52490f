import { registerAs } from '@nestjs/config';
import { EnvReader, isProduction } from './env';

export interface CryptoConfig {
  /** "keyId:base64Key,…": AES-256-GCM keys for payment handles; old keys stay to decrypt old values. */
  fieldEncryptionKeys: string;
  fieldEncryptionActiveKeyId: string;
  /** base64 HMAC-SHA256 key for blind indexes (equality lookups without decrypting). */
  blindIndexKey: string;
  /** "keyId:base64Key,…": further blind index keys ('' when unset); `blindIndexKey` joins them as key id `legacy`. */
  blindIndexKeys: string;
  /** The blind index key new indexes are computed under; unset: `legacy` when `blindIndexKey` is set, else the only key. */
  blindIndexActiveKeyId?: string;
}

// Fixed development keys so a fresh clone starts with no set-up; production refuses them.
export const DEV_FIELD_ENCRYPTION_KEYS = 'dev1:ZGV2LW9ubHktZmllbGQta2V5LWRvLW5vdC11c2UhISE=';
export const DEV_BLIND_INDEX_KEY = 'ZGV2LW9ubHktYmxpbmQtaW5kZXgta2V5LW5vdC11c2U=';

/** The bytes of a base64 key, decoded leniently (any padding, either alphabet), as a copy of it anywhere would decode. */
export function keyBytes(base64: string): Buffer {
  return Buffer.from(base64.trim(), 'base64');
}

/** The bytes of every key of a "keyId:base64Key,…" list, whatever its ids. */
export function keyringBytes(spec: string): Buffer[] {
  return spec
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map((entry) => keyBytes(entry.includes(':') ? entry.slice(entry.indexOf(':') + 1) : entry));
}

/** The development keys' material, compared by bytes: another key id or another base64 spelling is the same key. */
const DEV_KEY_MATERIAL = [...keyringBytes(DEV_FIELD_ENCRYPTION_KEYS), keyBytes(DEV_BLIND_INDEX_KEY)];

const isDevKey = (key: Buffer) => key.length > 0 && DEV_KEY_MATERIAL.some((dev) => dev.equals(key));

export function loadCryptoConfig(env = process.env): CryptoConfig {
  const read = new EnvReader(env);
  const config: CryptoConfig = {
    fieldEncryptionKeys: read.string('FIELD_ENCRYPTION_KEYS', DEV_FIELD_ENCRYPTION_KEYS),
    fieldEncryptionActiveKeyId: read.string('FIELD_ENCRYPTION_ACTIVE_KEY_ID', 'dev1'),
    // The development key fills in only when no blind index key is configured at all.
    blindIndexKey: env.BLIND_INDEX_KEYS?.trim()
      ? (read.optionalString('BLIND_INDEX_KEY') ?? '')
      : read.string('BLIND_INDEX_KEY', DEV_BLIND_INDEX_KEY),
    blindIndexKeys: read.optionalString('BLIND_INDEX_KEYS') ?? '',
    blindIndexActiveKeyId: read.optionalString('BLIND_INDEX_ACTIVE_KEY_ID'),
  };
  if (isProduction(env)) {
    const fieldKeys = keyringBytes(config.fieldEncryptionKeys);
    const legacyKey = config.blindIndexKey ? [keyBytes(config.blindIndexKey)] : [];
    const ringKeys = keyringBytes(config.blindIndexKeys);
    if (fieldKeys.some(isDevKey))
      read.fail('FIELD_ENCRYPTION_KEYS must be set in production (a development key is refused, under any key id)');
    if (legacyKey.some(isDevKey)) read.fail('BLIND_INDEX_KEY must be set in production (the default is for development only)');
    else if (legacyKey.some((blind) => fieldKeys.some((key) => key.equals(blind))))
      read.fail('BLIND_INDEX_KEY must differ from every FIELD_ENCRYPTION_KEYS key');
    if (ringKeys.some(isDevKey)) read.fail('BLIND_INDEX_KEYS must not hold the development key in production');
    else if (ringKeys.some((blind) => fieldKeys.some((key) => key.equals(blind))))
      read.fail('BLIND_INDEX_KEYS must differ from every FIELD_ENCRYPTION_KEYS key');
  }
  return read.done(config);
}

export const cryptoConfig = registerAs('crypto', () => loadCryptoConfig());
