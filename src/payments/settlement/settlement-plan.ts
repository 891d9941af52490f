/**
 * Settlement's steps as data, the way `trade.state-machine.ts` holds the trade's transitions: for each provider
 * and settling state, the ordered provider steps; for each step, its request id, what it records, how it learns an
 * outcome whose answer was lost, and what "not yet" means. `SettlementService` walks a plan; nothing else decides
 * which provider call comes next.
 */

import type { TradeState } from '../../trades/trade.state-machine';

export type FundingProvider = 'paypal' | 'bank_transfer';
export type SettlingState = 'releasing' | 'refunding' | 'splitting';
export type EndedState = 'completed' | 'refunded' | 'settled_split';

export type StepName = 'capture' | 'void' | 'refund' | 'bank_return' | 'payout' | 'watch_payout' | 'watch_bank_return';

/** What a step needs to know of the trade's funding record to decide whether it applies. */
export interface StepContext {
  captured: boolean;
}

export interface StepSpec {
  provider: 'paypal' | 'bank';
  /** The provider's request id (PayPal-Request-Id, sender_batch_id, the bank's Idempotency-Key) of one attempt. */
  requestId(tradeId: string, attempt: number): string;
  /** Whether the step applies now; a step that does not is passed over. */
  appliesWhen?(context: StepContext): boolean;
  /** The trade_fundings column the step's provider id is kept in. */
  records: 'capture_id' | 'refund_id' | 'payout_batch_id' | null;
  /** How a step whose answer was lost finds what the provider did. */
  recovers: string;
  /** What "not yet" means: the step is asked again later, and flags the trade once it has waited past its bound. */
  notYet: string;
  /** How long it may wait before the trade is flagged: a step that settles, or an outcome watched after the end. */
  bound: 'step' | 'watch_paypal' | 'watch_bank';
}

/** `yb-<trade>-<step>` for a first attempt, `-<n>` after it: a retry after "did it but failed" finds the first result. */
function perAttempt(step: string): (tradeId: string, attempt: number) => string {
  return (tradeId, attempt) => (attempt === 1 ? `yb-${tradeId}-${step}` : `yb-${tradeId}-${step}-${attempt}`);
}

export const STEPS: Record<StepName, StepSpec> = {
  capture: {
    provider: 'paypal',
    requestId: (tradeId) => `yb-${tradeId}-capture`,
    appliesWhen: ({ captured }) => !captured,
    records: 'capture_id',
    recovers: 'the request id replays the capture; an authorization already captured is looked up among its order’s captures',
    notYet: 'never: PayPal captures at once',
    bound: 'step',
  },
  void: {
    provider: 'paypal',
    requestId: (tradeId) => `yb-${tradeId}-void`,
    appliesWhen: ({ captured }) => !captured,
    records: null,
    recovers: 'PREVIOUSLY_VOIDED means done; PREVIOUSLY_CAPTURED recovers the capture by its request id, and the refund step follows',
    notYet: 'never: PayPal voids at once',
    bound: 'step',
  },
  refund: {
    provider: 'paypal',
    requestId: (tradeId) => `yb-${tradeId}-refund`,
    appliesWhen: ({ captured }) => captured,
    records: 'refund_id',
    recovers:
      'the request id replays the refund; past that, a refund already made is found among its order’s refunds (looked up first on a retry, since a part refunded once may fit again)',
    notYet: 'never: PayPal refunds a capture at once',
    bound: 'step',
  },
  bank_return: {
    provider: 'bank',
    requestId: perAttempt('refund'),
    records: 'refund_id',
    recovers: 'the Idempotency-Key returns the first return, whatever became of its answer',
    notYet: 'the return is pending at the bank',
    bound: 'step',
  },
  payout: {
    provider: 'paypal',
    requestId: perAttempt('payout'),
    records: 'payout_batch_id',
    recovers: 'a sender_batch_id PayPal has seen is refused with a link to the first batch, which is read instead',
    notYet: 'the payout item is still PENDING (or ONHOLD) at PayPal',
    bound: 'step',
  },
  watch_payout: {
    provider: 'paypal',
    requestId: perAttempt('payout'),
    records: null,
    recovers: 'reads the batch recorded by the payout step',
    notYet: 'the item is UNCLAIMED: PayPal returns it if the receiver does not claim it in 30 days',
    bound: 'watch_paypal',
  },
  watch_bank_return: {
    provider: 'bank',
    requestId: perAttempt('refund'),
    records: null,
    recovers: 'reads the return recorded by the bank_return step',
    notYet: 'the return settled, and the receiving bank may still send it back',
    bound: 'watch_bank',
  },
};

/** The ordered steps that settle a decided trade, by how it was funded. A step whose `appliesWhen` fails is passed over. */
export const SETTLEMENT_PLANS: Record<FundingProvider, Record<SettlingState, readonly StepName[]>> = {
  paypal: {
    releasing: ['capture', 'payout'],
    // A held authorization is voided; one captured into escrow (honour period, dispute) is refunded.
    refunding: ['void', 'refund'],
    splitting: ['capture', 'refund', 'payout'],
  },
  bank_transfer: {
    releasing: ['payout'],
    refunding: ['bank_return'],
    splitting: ['bank_return', 'payout'],
  },
};

/** What is watched after the end until the provider's outcome is final: the legs that paid someone. */
export const WATCHED_AFTER_THE_END: Record<FundingProvider, Record<EndedState, readonly StepName[]>> = {
  paypal: { completed: ['watch_payout'], refunded: [], settled_split: ['watch_payout'] },
  bank_transfer: { completed: ['watch_payout'], refunded: ['watch_bank_return'], settled_split: ['watch_bank_return', 'watch_payout'] },
};

/** PayPal payout item statuses. */
export const PAYOUT_STATUS = {
  /** The money reached the receiver. */
  paid: ['SUCCESS'],
  /** The money left us and waits for the receiver: the trade completes, and the item is watched until final. */
  leftUs: ['UNCLAIMED'],
  /** The money did not (or no longer) reach the receiver. */
  cameBack: ['FAILED', 'RETURNED', 'BLOCKED', 'REFUNDED', 'REVERSED'],
} as const;

export type PayoutOutcome = 'paid' | 'left_us' | 'came_back' | 'not_yet';

export function payoutOutcome(itemStatus: string | null): PayoutOutcome {
  if (!itemStatus) return 'not_yet';
  if ((PAYOUT_STATUS.paid as readonly string[]).includes(itemStatus)) return 'paid';
  if ((PAYOUT_STATUS.leftUs as readonly string[]).includes(itemStatus)) return 'left_us';
  if ((PAYOUT_STATUS.cameBack as readonly string[]).includes(itemStatus)) return 'came_back';
  return 'not_yet';
}

export function isSettling(state: TradeState): state is SettlingState {
  return state === 'releasing' || state === 'refunding' || state === 'splitting';
}

export function isEnded(state: TradeState): state is EndedState {
  return state === 'completed' || state === 'refunded' || state === 'settled_split';
}

/** The steps that settle a trade in `state`, in order, for its provider. */
export function planFor(provider: FundingProvider, state: SettlingState): readonly StepName[] {
  return SETTLEMENT_PLANS[provider][state];
}

/** The steps a plan still has to run for what is recorded: those that apply, in order. */
export function applicableSteps(plan: readonly StepName[], context: StepContext): StepName[] {
  return plan.filter((step) => STEPS[step].appliesWhen?.(context) ?? true);
}
