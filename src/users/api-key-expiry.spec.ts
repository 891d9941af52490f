import { DomainError } from '../common/errors';
import { apiKeyExpiry } from './api-key-expiry';

describe('apiKeyExpiry', () => {
  const now = Date.parse('2026-12-06T00:00:00.000Z');
  const refusal = (input: Parameters<typeof apiKeyExpiry>[0]) => {
    try {
      apiKeyExpiry(input, now);
    } catch (error) {
      return error instanceof DomainError ? [error.code, (error.extensions.errors as { field: string }[])[0].field] : error;
    }
    return undefined;
  };

  it('never expires when neither is given', () => {
    expect(apiKeyExpiry({}, now)).toBeNull();
  });

  it('counts days from now, or takes the time given', () => {
    expect(apiKeyExpiry({ expiresInDays: 30 }, now)?.toISOString()).toBe('2027-01-05T00:00:00.000Z');
    expect(apiKeyExpiry({ expiresAt: '2027-01-01T12:00:00Z' }, now)?.toISOString()).toBe('2027-01-01T12:00:00.000Z');
  });

  it('refuses both at once, a time not in the future, and one beyond ten years', () => {
    for (const input of [
      { expiresInDays: 1, expiresAt: '2027-01-01T00:00:00Z' },
      { expiresAt: '2026-12-06T00:00:00Z' },
      { expiresAt: '2020-01-01T00:00:00Z' },
      { expiresAt: '2040-01-01T00:00:00Z' },
    ])
      expect(refusal(input)).toEqual(['validation_failed', 'expiresAt']);
  });
});
