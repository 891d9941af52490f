import type { EncryptedField } from '../common/crypto/field-encryption';
import type { PaymentMethod } from '../market/market.types';
import type { ActorKind, TradeState } from './trade.state-machine';

/** What a trade is agreed on when it opens: its parties, where it came from, its amounts, rate, fee and method. */
export interface TradeTerms {
  requestId: string | null;
  offerId: string | null;
  travelerId: string;
  counterpartyId: string;
  amountCny: bigint;
  amountUsd: bigint;
  rate: bigint;
  feeBps: number;
  feeUsd: bigint;
  paymentMethod: PaymentMethod;
}

export interface Trade extends TradeTerms {
  id: string;
  state: TradeState;
  /** The traveler's WeChat id as snapshotted; null once erased after the trade's retention period. */
  travelerWechat: EncryptedField | null;
  fundingBy: Date | null;
  payoutBy: Date | null;
  verifyBy: Date | null;
  disputeId: string | null;
  settlementFailing: boolean;
  /** The counterparty's part of an operator's split (USD, before its fee); null unless the trade was split. */
  splitCounterpartyUsd: bigint | null;
  volumeDay: string;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * What a transition changes besides the state, in the trade's own terms: the repository maps each effect to its
 * columns. Times are PostgreSQL's: the transaction's `now()`, plus the window where one is given.
 */
export interface TransitionEffects {
  /** Funded now, and the payout deadline the window after it. */
  funded?: { payoutWindowMs: number };
  /** The counterparty's WeChat transfer, reported now; with `verifyWithinMs`, the verification deadline that long after. */
  payoutReported?: { wechatTransferId: string; verifyWithinMs?: number };
  /** The dispute that now holds the trade: its payout and verification deadlines stop. */
  disputeOpened?: { disputeId: string };
  /** An operator's split: the traveler's and the counterparty's parts. */
  split?: { travelerUsd: bigint; counterpartyUsd: bigint };
  /** The fee as settled (zero after a refund). */
  feeUsd?: bigint;
}

export interface Actor {
  kind: ActorKind;
  id: string | null;
}

/** The service itself: jobs, provider outcomes, deadlines. */
export const SYSTEM_ACTOR: Actor = { kind: 'system', id: null };

/** One of the trade's parties, acting for themselves. */
export function partyActor(trade: Pick<TradeTerms, 'travelerId'>, userId: string): Actor {
  return { kind: userId === trade.travelerId ? 'traveler' : 'counterparty', id: userId };
}

export interface TradeEvent {
  at: Date;
  actor: Actor;
  type: 'state_changed' | 'deadline_extended' | 'provider_event' | 'dispute_statement' | 'operator_note' | 'handle_revealed';
  fromState: TradeState | null;
  toState: TradeState | null;
  detail: Record<string, unknown>;
}

/** A party's handles as snapshotted into the trade: ciphertexts copied as they are, never decrypted to copy. */
export interface HandleSnapshot extends EncryptedField {
  index: string;
}

export interface NewTrade extends TradeTerms {
  travelerWechat: HandleSnapshot;
  counterpartyWechat: HandleSnapshot;
  counterpartyPaypal: HandleSnapshot;
  fundingWindowMs: number;
}

export interface PartyForTrade {
  id: string;
  tier: number;
  suspended: boolean;
  wechat: HandleSnapshot | null;
  paypal: HandleSnapshot | null;
}

/** What a party's tier limits are checked against: their trades still live and their USD of the UTC day, before this one. */
export interface PartyUsage {
  liveTrades: number;
  volumeTodayCents: bigint;
}

/** A trade just written, and what its source and parties looked like under the locks, before it. */
export interface OpenedTrade {
  trade: Trade;
  /** False when the source could not give the amount: the caller must roll back. */
  reserved: boolean;
  usage: Map<string, PartyUsage>;
}
