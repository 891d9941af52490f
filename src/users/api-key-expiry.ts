import { DomainError } from '../common/errors';
import { CreateApiKeyDto, MAX_API_KEY_DAYS } from './dto/users.dto';

const DAY_MS = 24 * 3600 * 1000;

/** When a new key expires: `expiresInDays` from now or `expiresAt` (one of them, in the future, within the bound), or never. */
export function apiKeyExpiry(input: Pick<CreateApiKeyDto, 'expiresInDays' | 'expiresAt'>, now = Date.now()): Date | null {
  const refuse = (message: string) => DomainError.validation([{ field: 'expiresAt', code: 'invalid_expiry', message }]);
  if (input.expiresInDays !== undefined && input.expiresAt !== undefined) throw refuse('give expiresAt or expiresInDays, not both');
  if (input.expiresInDays !== undefined) return new Date(now + input.expiresInDays * DAY_MS);
  if (input.expiresAt === undefined) return null;
  const at = Date.parse(input.expiresAt);
  if (Number.isNaN(at)) throw refuse('expiresAt must be an ISO-8601 time');
  if (at <= now) throw refuse('expiresAt must be in the future');
  if (at > now + MAX_API_KEY_DAYS * DAY_MS) throw refuse(`expiresAt must be within ${MAX_API_KEY_DAYS} days`);
  return new Date(at);
}
