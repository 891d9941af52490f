import { TRADE_STATES } from '../../trades/trade.state-machine';
import {
  applicableSteps,
  isEnded,
  isSettling,
  payoutOutcome,
  planFor,
  SETTLEMENT_PLANS,
  STEPS,
  WATCHED_AFTER_THE_END,
} from './settlement-plan';

describe('settlement plans', () => {
  it('has a plan for every provider and settling state, and every step it names exists', () => {
    for (const provider of ['paypal', 'bank_transfer'] as const) {
      for (const state of ['releasing', 'refunding', 'splitting'] as const) {
        const plan = planFor(provider, state);
        expect(plan.length).toBeGreaterThan(0);
        for (const step of plan) expect(STEPS[step]).toBeDefined();
      }
    }
  });

  it('pays out last in every plan that pays the counterparty, and never pays a refund', () => {
    for (const plans of Object.values(SETTLEMENT_PLANS)) {
      expect(plans.releasing[plans.releasing.length - 1]).toBe('payout');
      expect(plans.splitting[plans.splitting.length - 1]).toBe('payout');
      expect(plans.refunding).not.toContain('payout');
    }
  });

  it('voids a held PayPal authorization and refunds a captured one: exactly one of the two applies', () => {
    expect(applicableSteps(planFor('paypal', 'refunding'), { captured: false })).toEqual(['void']);
    expect(applicableSteps(planFor('paypal', 'refunding'), { captured: true })).toEqual(['refund']);
    // A release out of a capture made for the honour period does not capture again.
    expect(applicableSteps(planFor('paypal', 'releasing'), { captured: true })).toEqual(['payout']);
    expect(applicableSteps(planFor('paypal', 'splitting'), { captured: false })).toEqual(['capture', 'payout']);
  });

  it('gives each step and attempt its own request id, the first attempt keeping the historical form', () => {
    const trade = '2f1c0f5e-0000-4000-8000-000000000001';
    expect(STEPS.payout.requestId(trade, 1)).toBe(`yb-${trade}-payout`);
    expect(STEPS.payout.requestId(trade, 2)).toBe(`yb-${trade}-payout-2`);
    expect(STEPS.bank_return.requestId(trade, 1)).toBe(`yb-${trade}-refund`);
    expect(STEPS.capture.requestId(trade, 3)).toBe(`yb-${trade}-capture`);
    // A watch reads what its step made: the same request id.
    expect(STEPS.watch_payout.requestId(trade, 2)).toBe(STEPS.payout.requestId(trade, 2));
  });

  it('watches after the end only what paid someone and may still come back', () => {
    expect(WATCHED_AFTER_THE_END.paypal.refunded).toEqual([]);
    expect(WATCHED_AFTER_THE_END.bank_transfer.refunded).toEqual(['watch_bank_return']);
    expect(WATCHED_AFTER_THE_END.paypal.completed).toEqual(['watch_payout']);
  });

  it('reads a payout item status as paid, left unclaimed, came back, or not yet', () => {
    expect(payoutOutcome('SUCCESS')).toBe('paid');
    expect(payoutOutcome('UNCLAIMED')).toBe('left_us');
    for (const status of ['FAILED', 'RETURNED', 'BLOCKED', 'REFUNDED', 'REVERSED']) expect(payoutOutcome(status)).toBe('came_back');
    for (const status of ['PENDING', 'ONHOLD', null]) expect(payoutOutcome(status)).toBe('not_yet');
  });

  it('sorts every trade state into settling, ended, or neither', () => {
    for (const state of TRADE_STATES) expect(isSettling(state) && isEnded(state)).toBe(false);
    expect(TRADE_STATES.filter(isSettling)).toEqual(expect.arrayContaining(['releasing', 'refunding', 'splitting']));
    expect(TRADE_STATES.filter(isEnded)).toEqual(expect.arrayContaining(['completed', 'refunded', 'settled_split']));
  });
});
