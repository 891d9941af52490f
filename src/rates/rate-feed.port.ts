/** Where the reference USD/CNY rate comes from. The mock below by default; a real feed implements the same. */
export interface RateQuote {
  /** CNY per 1 USD, in 1/10000 units. */
  rate: bigint;
  asOf: Date;
}

export interface RateFeed {
  readonly source: string;
  latest(): Promise<RateQuote>;
}

export const RATE_FEED = Symbol('RATE_FEED');
