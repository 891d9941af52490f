import { LIVE_STATES } from '../trades/trade.state-machine';
import { LIVE_TRADE_STATES } from './account-events.repository';

describe('LIVE_TRADE_STATES', () => {
  it("is the state machine's live states, which lock a user's payment handles", () => {
    expect([...LIVE_TRADE_STATES].sort()).toEqual([...LIVE_STATES].sort());
  });
});
