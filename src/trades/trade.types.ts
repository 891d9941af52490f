import type { EncryptedField } from '../common/crypto/field-encryption';
import type { PaymentMethod } from '../market/market.types';
import type { ActorKind, TradeState } from './trade.state-machine';

export interface Trade {
  id: string;
  requestId: string | null;
  offerId: string | null;
  travelerId: string;
  counterpartyId: string;
  state: TradeState;
  amountCny: bigint;
  amountUsd: bigint;
  rate: bigint;
  feeBps: number;
  feeUsd: bigint;
  paymentMethod: PaymentMethod;
  /** The traveler's WeChat id as snapshotted; null once erased after the trade's retention period. */
  travelerWechat: EncryptedField | null;
  fundingBy: Date | null;
  payoutBy: Date | null;
  verifyBy: Date | null;
  disputeId: string | null;
  settlementFailing: boolean;
  volumeDay: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface Actor {
  kind: ActorKind;
  id: string | null;
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
