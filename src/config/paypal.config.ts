import { registerAs } from '@nestjs/config';
import { EnvReader, isProduction } from './env';

export interface PaypalConfig {
  /** PayPal's REST base, or the mock's (`…/sandbox/paypal`) in sandbox mode. */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  webhookId: string;
  /**
   * How long PayPal honours an authorization (3 days); a funded trade's authorization is captured into escrow
   * at four fifths of it, so a long wait (a dispute, a slow verification) never loses the money.
   */
  honorPeriodMs: number;
  /** The mock's authorizations: sure to be capturable for the honour period, valid until the validity ends. */
  mockHonorPeriodMs: number;
  mockValidityMs: number;
  /** Where the mock delivers its webhooks, and how it retries them (PayPal: up to 25 times over 3 days). */
  /** Unset: the mock delivers to `/v1/provider-webhooks/paypal` under `SANDBOX_BASE_URL`. */
  mockWebhookUrl?: string;
  mockWebhookAttempts: number;
  mockWebhookBackoffMs: number;
  /** How long the mock takes to settle a payout item, and to return an unclaimed one. */
  mockPayoutDelayMs: number;
  mockUnclaimedReturnMs: number;
  /** Receivers whose payouts the mock leaves unclaimed (and later returns). */
  mockUnclaimedReceivers: string[];
}

export const DEV_PAYPAL_CLIENT_ID = 'yb-sandbox-client';
export const DEV_PAYPAL_CLIENT_SECRET = 'yb-sandbox-secret';
export const DEV_PAYPAL_WEBHOOK_ID = 'WH-YB-SANDBOX';

export function loadPaypalConfig(env = process.env): PaypalConfig {
  const read = new EnvReader(env);
  const production = isProduction(env);
  const port = env.PORT && /^\d+$/.test(env.PORT) ? env.PORT : '3000';
  const baseUrl = read.url('PAYPAL_BASE_URL', `http://127.0.0.1:${port}/sandbox/paypal`, ['http:', 'https:']);
  const config: PaypalConfig = {
    baseUrl: baseUrl.toString().replace(/\/$/, ''),
    clientId: read.string('PAYPAL_CLIENT_ID', DEV_PAYPAL_CLIENT_ID),
    clientSecret: read.string('PAYPAL_CLIENT_SECRET', DEV_PAYPAL_CLIENT_SECRET),
    webhookId: read.string('PAYPAL_WEBHOOK_ID', DEV_PAYPAL_WEBHOOK_ID),
    honorPeriodMs: read.int('PAYPAL_HONOR_PERIOD_MS', 3 * 24 * 60 * 60 * 1000, { min: 100 }),
    mockHonorPeriodMs: read.int('PAYPAL_MOCK_HONOR_PERIOD_MS', 3 * 24 * 60 * 60 * 1000, { min: 100 }),
    mockValidityMs: read.int('PAYPAL_MOCK_VALIDITY_MS', 29 * 24 * 60 * 60 * 1000, { min: 100 }),
    mockWebhookUrl: env.PAYPAL_MOCK_WEBHOOK_URL
      ? read.url('PAYPAL_MOCK_WEBHOOK_URL', 'http://127.0.0.1', ['http:', 'https:']).toString()
      : undefined,
    mockWebhookAttempts: read.int('PAYPAL_MOCK_WEBHOOK_ATTEMPTS', 25, { min: 1, max: 50 }),
    mockWebhookBackoffMs: read.int('PAYPAL_MOCK_WEBHOOK_BACKOFF_MS', 60000, { min: 10 }),
    mockPayoutDelayMs: read.int('PAYPAL_MOCK_PAYOUT_DELAY_MS', 2000, { min: 0 }),
    mockUnclaimedReturnMs: read.int('PAYPAL_MOCK_UNCLAIMED_RETURN_MS', 30 * 24 * 60 * 60 * 1000, { min: 10 }),
    mockUnclaimedReceivers: read.list('PAYPAL_MOCK_UNCLAIMED_RECEIVERS', ['unclaimed@example.com']).map((r) => r.toLowerCase()),
  };
  if (production) {
    if (!env.PAYPAL_BASE_URL || baseUrl.pathname.startsWith('/sandbox/'))
      read.fail('PAYPAL_BASE_URL must point at PayPal in production, not the sandbox mock');
    // Its credentials travel with every call: never in clear.
    else if (baseUrl.protocol !== 'https:') read.fail('PAYPAL_BASE_URL must use https in production');
    if (config.clientId === DEV_PAYPAL_CLIENT_ID) read.fail('PAYPAL_CLIENT_ID must be set in production');
    if (config.clientSecret === DEV_PAYPAL_CLIENT_SECRET) read.fail('PAYPAL_CLIENT_SECRET must be set in production');
    if (config.webhookId === DEV_PAYPAL_WEBHOOK_ID) read.fail('PAYPAL_WEBHOOK_ID must be set in production');
  }
  return read.done(config);
}

export const paypalConfig = registerAs('paypal', () => loadPaypalConfig());
