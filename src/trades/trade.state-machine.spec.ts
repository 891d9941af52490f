import { DomainError } from '../common/errors';
import {
  ActorKind,
  assertTransition,
  canTransition,
  LIVE_STATES,
  SETTLED_FROM,
  SETTLING_STATES,
  sourcesOf,
  TERMINAL_STATES,
  TRADE_STATES,
  TradeState,
} from './trade.state-machine';

// SPEC.md's table, written out independently of the data under test.
const ALLOWED: [TradeState, TradeState, ActorKind[]][] = [
  ['awaiting_funding', 'funded', ['system']],
  ['awaiting_funding', 'cancelled', ['traveler', 'counterparty', 'system']],
  ['awaiting_funding', 'expired', ['system']],
  ['funded', 'payout_sent', ['counterparty']],
  ['funded', 'releasing', ['traveler', 'system']],
  ['funded', 'refunding', ['system']],
  ['funded', 'disputed', ['traveler', 'counterparty']],
  ['payout_sent', 'releasing', ['traveler', 'system']],
  ['payout_sent', 'disputed', ['traveler', 'counterparty', 'system']],
  ['releasing', 'completed', ['system']],
  ['refunding', 'refunded', ['system']],
  ['disputed', 'releasing', ['operator']],
  ['disputed', 'refunding', ['operator']],
  ['disputed', 'splitting', ['operator']],
  ['splitting', 'settled_split', ['system']],
];
const ACTORS: ActorKind[] = ['traveler', 'counterparty', 'operator', 'system'];

describe('trade state machine', () => {
  const pairs = TRADE_STATES.flatMap((from) => TRADE_STATES.flatMap((to) => ACTORS.map((actor) => [from, to, actor] as const)));

  it.each(pairs)('%s → %s by %s is allowed exactly when SPEC.md says so', (from, to, actor) => {
    const allowed = ALLOWED.some(([f, t, actors]) => f === from && t === to && actors.includes(actor));
    expect(canTransition(from, to, actor)).toBe(allowed);
    if (allowed) expect(() => assertTransition(from, to, actor)).not.toThrow();
    else {
      let error: unknown;
      try {
        assertTransition(from, to, actor);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe('invalid_state_transition');
      expect((error as DomainError).detail).toContain(from);
    }
  });

  it('has exactly the terminal states of SPEC.md', () => {
    expect([...TERMINAL_STATES].sort()).toEqual(['cancelled', 'completed', 'expired', 'refunded', 'settled_split']);
    expect(LIVE_STATES).toHaveLength(7);
  });

  it('knows where each transition may start', () => {
    expect(sourcesOf('releasing', 'traveler')).toEqual(['funded', 'payout_sent']);
    expect(sourcesOf('cancelled', 'counterparty')).toEqual(['awaiting_funding']);
    expect(sourcesOf('completed', 'traveler')).toEqual([]);
  });

  it('knows the settling states and the end each settles into', () => {
    expect(SETTLING_STATES).toEqual(['releasing', 'refunding', 'splitting']);
    expect(SETTLED_FROM).toEqual({ completed: 'releasing', refunded: 'refunding', settled_split: 'splitting' });
  });
});
