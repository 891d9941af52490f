/**
 * Named groups of settings for `startTestApp`/`useTestApp`, composed per suite with spreads; a suite adds or
 * overrides what it relies on after them (the last key wins). Whatever no preset and no suite names stays at the
 * service's default: notably the funding windows, `PROVIDER_WORK_SWEEP_EVERY_MS`, the settlement flags, the
 * honour period and the mocks' unclaimed-return and claim periods. `startTestApp` itself already sets
 * `OUTBOX_POLL_INTERVAL_MS` to 100 ms, cheap hashing and lifted rate limits. `test/default-delays.e2e-spec.ts` runs a
 * whole trade with the mocks' delays and the providers' poll left at their defaults.
 */
export type Settings = Record<string, string>;

/** The reference rate holds still: no random walk, no refresh within a test, so a recorded 7.2400 stays put. */
export const quietRates: Settings = { RATE_FEED_WALK_BPS: '0', REFERENCE_RATE_REFRESH_EVERY_MS: '3600000' };

/** The PayPal mock pays out and retries its webhooks fast, the platform polls providers and relays its outbox fast. */
export const fastProviders: Settings = {
  PROVIDER_POLL_EVERY_MS: '200',
  PAYPAL_MOCK_PAYOUT_DELAY_MS: '100',
  PAYPAL_MOCK_WEBHOOK_BACKOFF_MS: '100',
  OUTBOX_POLL_INTERVAL_MS: '50',
};

/** The providers' poll backs off to a second at the most (its default cap is longer). */
export const cappedPolls: Settings = { PROVIDER_POLL_MAX_EVERY_MS: '1000' };

/** The bank mock settles transfers and retries its callbacks fast. */
export const fastBank: Settings = { BANK_MOCK_SETTLEMENT_DELAY_MS: '100', BANK_MOCK_WEBHOOK_BACKOFF_MS: '100' };

/** No payout deadline passes within a test, and the deadline sweeper runs hourly: deadline jobs still run at their time. */
export const distantDeadlines: Settings = { PAYOUT_WINDOW_MS: '3600000', DEADLINE_SWEEP_EVERY_MS: '3600000' };

/** Trades funded and settled through the mocks without waiting: the set most settlement suites start from. */
export const settling: Settings = { ...quietRates, ...fastProviders, ...distantDeadlines };
