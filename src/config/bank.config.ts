import { registerAs } from '@nestjs/config';
import { EnvReader, isProduction } from './env';

export interface BankConfig {
  /** The bank's API base, or the mock's (`…/sandbox/bank`) in sandbox mode. */
  baseUrl: string;
  /** Our key at the bank (a Bearer token on every call). */
  apiKey: string;
  /** The secret the bank signs its callbacks with (`X-Signature`, HMAC-SHA256). */
  webhookSecret: string;
  /** How long the mock takes to settle an incoming transfer, and a return to its sender. */
  mockSettlementDelayMs: number;
  /** Unset: the mock delivers to `/v1/provider-webhooks/bank` under `SANDBOX_BASE_URL`. */
  mockWebhookUrl?: string;
  mockWebhookAttempts: number;
  mockWebhookBackoffMs: number;
}

export const DEV_BANK_API_KEY = 'yb-sandbox-bank-key';
export const DEV_BANK_WEBHOOK_SECRET = 'yb-sandbox-bank-webhook-secret';

export function loadBankConfig(env = process.env): BankConfig {
  const read = new EnvReader(env);
  const production = isProduction(env);
  const port = env.PORT && /^\d+$/.test(env.PORT) ? env.PORT : '3000';
  const baseUrl = read.url('BANK_BASE_URL', `http://127.0.0.1:${port}/sandbox/bank`, ['http:', 'https:']);
  const config: BankConfig = {
    baseUrl: baseUrl.toString().replace(/\/$/, ''),
    apiKey: read.string('BANK_API_KEY', DEV_BANK_API_KEY),
    webhookSecret: read.string('BANK_WEBHOOK_SECRET', DEV_BANK_WEBHOOK_SECRET),
    mockSettlementDelayMs: read.int('BANK_MOCK_SETTLEMENT_DELAY_MS', 2000, { min: 0 }),
    mockWebhookUrl: env.BANK_MOCK_WEBHOOK_URL
      ? read.url('BANK_MOCK_WEBHOOK_URL', 'http://127.0.0.1', ['http:', 'https:']).toString()
      : undefined,
    mockWebhookAttempts: read.int('BANK_MOCK_WEBHOOK_ATTEMPTS', 20, { min: 1, max: 50 }),
    mockWebhookBackoffMs: read.int('BANK_MOCK_WEBHOOK_BACKOFF_MS', 60000, { min: 10 }),
  };
  if (production) {
    if (!env.BANK_BASE_URL || baseUrl.pathname.startsWith('/sandbox/'))
      read.fail('BANK_BASE_URL must point at the bank in production, not the sandbox mock');
    // Its credentials travel with every call: never in clear.
    else if (baseUrl.protocol !== 'https:') read.fail('BANK_BASE_URL must use https in production');
    if (config.apiKey === DEV_BANK_API_KEY) read.fail('BANK_API_KEY must be set in production');
    if (config.webhookSecret === DEV_BANK_WEBHOOK_SECRET) read.fail('BANK_WEBHOOK_SECRET must be set in production');
  }
  return read.done(config);
}

export const bankConfig = registerAs('bank', () => loadBankConfig());
