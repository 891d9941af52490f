import { DomainError } from '../common/errors';

export const TRADE_STATES = [
  'awaiting_funding',
  'funded',
  'payout_sent',
  'releasing',
  'refunding',
  'disputed',
  'splitting',
  'completed',
  'refunded',
  'settled_split',
  'cancelled',
  'expired',
] as const;
export type TradeState = (typeof TRADE_STATES)[number];

export type ActorKind = 'traveler' | 'counterparty' | 'operator' | 'system';

/**
 * SPEC.md's table, as data: every allowed transition, and who may cause it. Anything not here is refused
 * with 409 `invalid_state_transition` naming the current state.
 */
export const TRANSITIONS: Readonly<Record<TradeState, Partial<Record<TradeState, readonly ActorKind[]>>>> = {
  awaiting_funding: { funded: ['system'], cancelled: ['traveler', 'counterparty', 'system'], expired: ['system'] },
  funded: {
    payout_sent: ['counterparty'],
    // The system, when the last search before a refund finds the transfer the counterparty made and never reported.
    releasing: ['traveler', 'system'],
    refunding: ['system'],
    disputed: ['traveler', 'counterparty'],
  },
  payout_sent: { releasing: ['traveler', 'system'], disputed: ['traveler', 'counterparty', 'system'] },
  releasing: { completed: ['system'] },
  refunding: { refunded: ['system'] },
  disputed: { releasing: ['operator'], refunding: ['operator'], splitting: ['operator'] },
  splitting: { settled_split: ['system'] },
  completed: {},
  refunded: {},
  settled_split: {},
  cancelled: {},
  expired: {},
};

export const TERMINAL_STATES: readonly TradeState[] = TRADE_STATES.filter((state) => Object.keys(TRANSITIONS[state]).length === 0);
export const LIVE_STATES: readonly TradeState[] = TRADE_STATES.filter((state) => !TERMINAL_STATES.includes(state));

/** The states settlement moves money in: live states whose one way on is the system's, to an end. */
export const SETTLING_STATES: readonly TradeState[] = LIVE_STATES.filter((state) => {
  const next = Object.entries(TRANSITIONS[state]);
  return next.length === 1 && TERMINAL_STATES.includes(next[0][0] as TradeState) && next[0][1].every((actor) => actor === 'system');
});

export function isSettling(state: string): boolean {
  return (SETTLING_STATES as readonly string[]).includes(state);
}

/** The settling state each settled end is reached from (`completed` from `releasing`…). */
export const SETTLED_FROM: Readonly<Partial<Record<TradeState, TradeState>>> = Object.fromEntries(
  SETTLING_STATES.map((state) => [Object.keys(TRANSITIONS[state])[0], state]),
);

export function canTransition(from: TradeState, to: TradeState, actor: ActorKind): boolean {
  return TRANSITIONS[from][to]?.includes(actor) ?? false;
}

/** The one check every transition goes through. */
export function assertTransition(from: TradeState, to: TradeState, actor: ActorKind): void {
  if (!canTransition(from, to, actor)) {
    throw new DomainError('invalid_state_transition', `The trade is ${from}; it cannot become ${to} by the ${actor}`, { state: from });
  }
}

/** The states a transition to `to` by `actor` may leave from: the guard of its conditional update. */
export function sourcesOf(to: TradeState, actor: ActorKind): TradeState[] {
  return TRADE_STATES.filter((from) => canTransition(from, to, actor));
}
