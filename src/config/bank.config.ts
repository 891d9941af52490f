import { registerAs } from '@nestjs/config';
import { EnvReader } from './env';

export const DEV_BANK_API_KEY = 'yb-sandbox-bank-key';
export const DEV_BANK_WEBHOOK_SECRET = 'yb-sandbox-bank-webhook-secret';

export function loadBankConfig(env = process.env) {
  const read = new EnvReader(env);
  return read.done({
    /** The bank's API base, or the mock's (`…/sandbox/bank`) in sandbox mode. */
    baseUrl: read.providerBaseUrl('BANK_BASE_URL', '/sandbox/bank', 'the bank'),
    /** Our key at the bank (a Bearer token on every call). */
    apiKey: read.credential('BANK_API_KEY', DEV_BANK_API_KEY),
    /** The secret the bank signs its callbacks with (`X-Signature`, HMAC-SHA256). */
    webhookSecret: read.credential('BANK_WEBHOOK_SECRET', DEV_BANK_WEBHOOK_SECRET),
    /** How long the mock takes to settle an incoming transfer, and a return to its sender. */
    mockSettlementDelayMs: read.int('BANK_MOCK_SETTLEMENT_DELAY_MS', 2000, { min: 0 }),
    /** Unset: the mock delivers to `/v1/provider-webhooks/bank` under `SANDBOX_BASE_URL`. */
    mockWebhookUrl: read.optionalHttpUrl('BANK_MOCK_WEBHOOK_URL'),
    mockWebhookAttempts: read.int('BANK_MOCK_WEBHOOK_ATTEMPTS', 20, { min: 1, max: 50 }),
    mockWebhookBackoffMs: read.int('BANK_MOCK_WEBHOOK_BACKOFF_MS', 60000, { min: 10 }),
  });
}

export type BankConfig = ReturnType<typeof loadBankConfig>;

export const bankConfig = registerAs('bank', () => loadBankConfig());
