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
    if (config.fieldEncryptionKeys.includes(DEV_FIELD_ENCRYPTION_KEYS))
      read.fail('FIELD_ENCRYPTION_KEYS must be set in production (the default is for development only)');
    if (config.blindIndexKey === DEV_BLIND_INDEX_KEY)
      read.fail('BLIND_INDEX_KEY must be set in production (the default is for development only)');
    if (config.blindIndexKeys.includes(DEV_BLIND_INDEX_KEY)) read.fail('BLIND_INDEX_KEYS must not hold the development key in production');
  }
  return read.done(config);
}

export const cryptoConfig = registerAs('crypto', () => loadCryptoConfig());
