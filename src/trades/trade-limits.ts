import type { TierLimits } from '../config';
import { DomainError } from '../common/errors';
import { formatAmount } from '../common/money';

/** One party of a new trade as its tier limits see it: its tier and what it had before this trade. */
export interface LimitedParty {
  id: string;
  tier: number;
  liveTrades: number;
  volumeTodayCents: bigint;
}

/**
 * The tier limits of a new trade of `amountUsd`, the caller's checked first, then the maker's; throws the first
 * one passed (409 `daily_limit_exceeded` or `open_trades_limit`, `detail` naming whose).
 */
export function assertWithinLimits(tiers: readonly TierLimits[], amountUsd: bigint, caller: LimitedParty, maker: LimitedParty): void {
  for (const party of [caller, maker]) {
    const limits = tiers[party.tier];
    const mine = party === caller;
    if (party.volumeTodayCents + amountUsd > limits.dailyUsdCents) {
      throw new DomainError(
        'daily_limit_exceeded',
        `This trade would take ${mine ? 'your' : "the maker's"} volume today past ${formatAmount(limits.dailyUsdCents, 'USD')} USD (tier ${party.tier})`,
        { party: mine ? 'caller' : 'maker' },
      );
    }
    if (party.liveTrades >= limits.openTrades) {
      throw new DomainError(
        'open_trades_limit',
        `${mine ? 'You have' : 'The maker has'} ${party.liveTrades} open trades, the most tier ${party.tier} allows`,
        { party: mine ? 'caller' : 'maker' },
      );
    }
  }
}
