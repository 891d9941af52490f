import { registerAs } from '@nestjs/config';
import { createSecretKey, KeyObject } from 'node:crypto';
import { EnvReader, isProduction } from './env';

export const DEV_JWT_SECRET = 'dev-only-jwt-secret-do-not-use-in-production';

export function loadAuthConfig(env = process.env) {
  const read = new EnvReader(env);
  const jwtSecret = read.string('JWT_SECRET', DEV_JWT_SECRET);
  if (isProduction(env) && jwtSecret === DEV_JWT_SECRET)
    read.fail('JWT_SECRET must be set in production (the default is for development only)');
  if (jwtSecret.length < 32) read.fail('JWT_SECRET must be at least 32 characters');
  return read.done({
    jwtSecret,
    jwtExpiresInSeconds: read.int('JWT_EXPIRES_IN_SECONDS', 3600, { min: 60, max: 86400 }),
    /** argon2id cost; defaults follow OWASP's recommended minimum (19 MiB, 2 passes, 1 lane). */
    argon2MemoryKib: read.int('ARGON2_MEMORY_KIB', 19456, { min: 1024 }),
    argon2TimeCost: read.int('ARGON2_TIME_COST', 2, { min: 1, max: 10 }),
    /** How long a process reuses a token subject's role, tier and suspension; 0 reads them on every request. */
    principalCacheMs: read.int('PRINCIPAL_CACHE_MS', 10000, { min: 0, max: 300000 }),
    /** Payment handle changes (both handles together) a user may make in 24 hours; more → 429. */
    handleChangesPerDay: read.int('HANDLE_CHANGES_PER_DAY', 5, { min: 1, max: 1000 }),
    /** Self-trade refusals within `selfTradeFlagWindowMs` after which a user is flagged for operators. */
    selfTradeFlagAfter: read.int('SELF_TRADE_FLAG_AFTER', 3, { min: 1 }),
    selfTradeFlagWindowMs: read.int('SELF_TRADE_FLAG_WINDOW_MS', 24 * 60 * 60 * 1000, { min: 1000 }),
  });
}

export type AuthConfig = ReturnType<typeof loadAuthConfig>;

export const authConfig = registerAs('auth', () => loadAuthConfig());

const signingKeys = new Map<string, KeyObject>();

/**
 * The JWT secret as a KeyObject. Given a string, jsonwebtoken first tries it as a public key and
 * catches the failure on every verify, which cost a quarter of the CPU of an authenticated request.
 */
export function jwtSigningKey(secret: string): KeyObject {
  let key = signingKeys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(secret, 'utf8'));
    signingKeys.set(secret, key);
  }
  return key;
}
