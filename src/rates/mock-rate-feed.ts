import { createHash } from 'node:crypto';
import { divideHalfUp, parseRate } from '../common/money';
import { DomainError } from '../common/errors';
import type { RateFeed, RateFeedFaults, RateQuote } from './rate-feed.port';

export interface MockRateFeedOptions {
  base: string;
  seed: number;
  /** The walk never leaves base ± this many basis points. */
  walkBps: number;
  stepMs: number;
}

const SMOOTHING_STEPS = 8n;

/**
 * A bounded random walk around a base rate, computed from the time step and the seed alone, so every
 * process (API, workers, the sandbox endpoint) sees the same rate at the same moment without sharing state.
 * Each step draws a deviation in [−walkBps, +walkBps]; the rate is the base moved by the mean of the last
 * eight draws, so consecutive values differ by at most a quarter of the bound.
 */
export class MockRateFeed implements RateFeed {
  readonly source = 'mock';
  private readonly base: bigint;

  constructor(
    private readonly options: MockRateFeedOptions,
    private readonly now: () => number = Date.now,
    /** In sandbox mode, the feed's faults from `PUT /sandbox/faults {provider: "rates"}`. */
    private readonly faults?: RateFeedFaults,
  ) {
    this.base = parseRate(options.base);
  }

  async latest(): Promise<RateQuote> {
    const decision = await this.faults?.();
    if (decision?.kind === 'down' || decision?.kind === 'error') {
      throw new DomainError('service_unavailable', 'The rate feed is not answering');
    }
    if (decision?.kind === 'ok' && decision.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, decision.latencyMs));
    const at = this.now();
    return { rate: this.rateAtStep(BigInt(Math.floor(at / this.options.stepMs))), asOf: new Date(at) };
  }

  rateAtStep(step: bigint): bigint {
    let sum = 0n;
    for (let i = 0n; i < SMOOTHING_STEPS; i += 1n) sum += this.draw(step - i);
    const deviationBps = divideHalfUp(sum, SMOOTHING_STEPS);
    return divideHalfUp(this.base * (10_000n + deviationBps), 10_000n);
  }

  private draw(step: bigint): bigint {
    const span = BigInt(2 * this.options.walkBps + 1);
    const digest = createHash('sha256').update(`${this.options.seed}:${step}`).digest();
    return (digest.readBigUInt64BE(0) % span) - BigInt(this.options.walkBps);
  }
}
