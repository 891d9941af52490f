import { TRADE_STATES } from '../../trades/trade.state-machine';
import { fundingCheckNeeded } from './funding-check-needed';

describe('fundingCheckNeeded', () => {
  it('checks every event about a trade awaiting funding', () => {
    for (const type of [
      'CHECKOUT.ORDER.APPROVED',
      'PAYMENT.AUTHORIZATION.CREATED',
      'PAYMENT.AUTHORIZATION.VOIDED',
      'PAYMENT.AUTHORIZATION.NEW',
    ])
      expect(fundingCheckNeeded('awaiting_funding', type)).toBe(true);
  });

  it('checks an ended trade only for an event that may bring an authorization to void', () => {
    for (const state of ['cancelled', 'expired'] as const) {
      expect(fundingCheckNeeded(state, 'PAYMENT.AUTHORIZATION.CREATED')).toBe(true);
      expect(fundingCheckNeeded(state, 'PAYMENT.AUTHORIZATION.REVERSED')).toBe(true);
      expect(fundingCheckNeeded(state, 'CHECKOUT.ORDER.APPROVED')).toBe(false);
      expect(fundingCheckNeeded(state, 'PAYMENT.AUTHORIZATION.VOIDED')).toBe(false);
    }
  });

  it('checks nothing for a trade funded or past it, whatever the event', () => {
    const past = TRADE_STATES.filter((state) => !['awaiting_funding', 'cancelled', 'expired'].includes(state));
    expect(past).toHaveLength(9);
    for (const state of past) {
      expect(fundingCheckNeeded(state, 'PAYMENT.AUTHORIZATION.CREATED')).toBe(false);
      expect(fundingCheckNeeded(state, 'CHECKOUT.ORDER.APPROVED')).toBe(false);
    }
  });
});
