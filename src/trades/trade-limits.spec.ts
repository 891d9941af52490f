import { DomainError } from '../common/errors';
import { assertWithinLimits, LimitedParty } from './trade-limits';

const tiers = [{ dailyUsdCents: 100000n, openTrades: 5 }];
const party = (id: string, over: Partial<LimitedParty> = {}): LimitedParty => ({
  id,
  tier: 0,
  liveTrades: 0,
  volumeTodayCents: 0n,
  ...over,
});

function refusal(run: () => void): { code: string; party: unknown } | null {
  try {
    run();
    return null;
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return { code: error.code, party: error.extensions.party };
  }
}

describe('assertWithinLimits', () => {
  it('lets a trade through up to the limits exactly', () => {
    expect(refusal(() => assertWithinLimits(tiers, 100000n, party('c'), party('m', { liveTrades: 4 })))).toBeNull();
  });

  it("refuses the caller's limit before the maker's", () => {
    const caller = party('c', { volumeTodayCents: 99999n });
    const maker = party('m', { liveTrades: 5 });
    expect(refusal(() => assertWithinLimits(tiers, 2n, caller, maker))).toEqual({ code: 'daily_limit_exceeded', party: 'caller' });
    expect(refusal(() => assertWithinLimits(tiers, 1n, caller, maker))).toEqual({ code: 'open_trades_limit', party: 'maker' });
  });

  it('checks volume before open trades for one party', () => {
    const caller = party('c', { volumeTodayCents: 100000n, liveTrades: 5 });
    expect(refusal(() => assertWithinLimits(tiers, 1n, caller, party('m')))).toEqual({ code: 'daily_limit_exceeded', party: 'caller' });
  });
});
