import { registerAs } from '@nestjs/config';
import { EnvReader } from './env';

export const DEV_PAYPAL_CLIENT_ID = 'yb-sandbox-client';
export const DEV_PAYPAL_CLIENT_SECRET = 'yb-sandbox-secret';
export const DEV_PAYPAL_WEBHOOK_ID = 'WH-YB-SANDBOX';

export function loadPaypalConfig(env = process.env) {
  const read = new EnvReader(env);
  return read.done({
    /** PayPal's REST base, or the mock's (`…/sandbox/paypal`) in sandbox mode. */
    baseUrl: read.providerBaseUrl('PAYPAL_BASE_URL', '/sandbox/paypal', 'PayPal'),
    clientId: read.credential('PAYPAL_CLIENT_ID', DEV_PAYPAL_CLIENT_ID),
    clientSecret: read.credential('PAYPAL_CLIENT_SECRET', DEV_PAYPAL_CLIENT_SECRET),
    webhookId: read.credential('PAYPAL_WEBHOOK_ID', DEV_PAYPAL_WEBHOOK_ID),
    /**
     * How long PayPal honours an authorization (3 days); a funded trade's authorization is captured into escrow
     * at four fifths of it, so a long wait (a dispute, a slow verification) never loses the money.
     */
    honorPeriodMs: read.int('PAYPAL_HONOR_PERIOD_MS', 3 * 24 * 60 * 60 * 1000, { min: 100 }),
    /** The mock's authorizations: sure to be capturable for the honour period, valid until the validity ends. */
    mockHonorPeriodMs: read.int('PAYPAL_MOCK_HONOR_PERIOD_MS', 3 * 24 * 60 * 60 * 1000, { min: 100 }),
    mockValidityMs: read.int('PAYPAL_MOCK_VALIDITY_MS', 29 * 24 * 60 * 60 * 1000, { min: 100 }),
    /**
     * Where the mock delivers its webhooks, and how it retries them (PayPal: up to 25 times over 3 days). Unset: the
     * mock delivers to `/v1/provider-webhooks/paypal` under `SANDBOX_BASE_URL`.
     */
    mockWebhookUrl: read.optionalHttpUrl('PAYPAL_MOCK_WEBHOOK_URL'),
    mockWebhookAttempts: read.int('PAYPAL_MOCK_WEBHOOK_ATTEMPTS', 25, { min: 1, max: 50 }),
    mockWebhookBackoffMs: read.int('PAYPAL_MOCK_WEBHOOK_BACKOFF_MS', 60000, { min: 10 }),
    /** How long the mock takes to settle a payout item, and to return an unclaimed one. */
    mockPayoutDelayMs: read.int('PAYPAL_MOCK_PAYOUT_DELAY_MS', 2000, { min: 0 }),
    mockUnclaimedReturnMs: read.int('PAYPAL_MOCK_UNCLAIMED_RETURN_MS', 30 * 24 * 60 * 60 * 1000, { min: 10 }),
    /** Receivers whose payouts the mock leaves unclaimed (and later returns). */
    mockUnclaimedReceivers: read.list('PAYPAL_MOCK_UNCLAIMED_RECEIVERS', ['unclaimed@example.com']).map((r) => r.toLowerCase()),
  });
}

export type PaypalConfig = ReturnType<typeof loadPaypalConfig>;

export const paypalConfig = registerAs('paypal', () => loadPaypalConfig());
