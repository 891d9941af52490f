/**
 * Where the reference USD/CNY rate comes from: an HTTP feed (`RATE_FEED_URL`, required in production) or, outside
 * production when it is unset, the mock.
 */
export interface RateQuote {
  /** CNY per 1 USD, in 1/10000 units. */
  rate: bigint;
  asOf: Date;
}

export interface RateFeed {
  readonly source: string;
  latest(): Promise<RateQuote>;
}

/** The feed the reference is refreshed from. */
export const RATE_FEED = Symbol('RATE_FEED');
/** The mock feed (sandbox mode only), served at `GET /sandbox/rates/usd-cny` whichever feed the reference uses. */
export const MOCK_RATE_FEED = Symbol('MOCK_RATE_FEED');

/**
 * In sandbox mode, what the mock feed should do wrong next (`PUT /sandbox/faults {provider: "rates"}`): provided by
 * the sandbox, which sits above rates, so rates never imports it.
 */
export type RateFeedFaults = () => Promise<{ kind: 'down' } | { kind: 'error' } | { kind: 'ok'; latencyMs: number }>;
export const RATE_FEED_FAULTS = Symbol('RATE_FEED_FAULTS');
