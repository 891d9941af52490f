import type { Client } from 'pg';
import type { TestUser } from '../factories';
import type { Api } from '../http';
import type { TestApp } from '../test-app';
import type { Figures } from './figures';

export type Provider = 'paypal' | 'bank' | 'wechat';
export const PROVIDERS: readonly Provider[] = ['paypal', 'bank', 'wechat'];

export type PaymentMethod = 'paypal' | 'bank_transfer';

export const TERMINAL = ['completed', 'refunded', 'settled_split', 'cancelled', 'expired'] as const;
export const SETTLING = ['releasing', 'refunding', 'splitting'] as const;

/** One trade the simulation opened, as far as the simulation knows it (its state is read back after each step). */
export interface SimTrade {
  /** Position in this sequence, the name the printed steps use. */
  n: number;
  id: string;
  method: PaymentMethod;
  traveler: TestUser;
  counterparty: TestUser;
  travelerWallet: string;
  counterpartyWallet: string;
  /** The traveler's bank account, which bank funding comes from and refunds return to. */
  senderAccount: string;
  payerEmail: string;
  amountCny: string;
  amountUsd: string;
  /** The PayPal order or the bank reference, once funding was started. */
  orderId?: string;
  reference?: string;
  /** A WeChat transfer the counterparty made for this trade (reported or not). */
  wechatTransferId?: string;
  /** The transfer id the trade took when the counterparty reported it: no other trade may take it. */
  claimedTransferId?: string;
  /** The counterparty reported a transfer WeChat does not have, or one of another amount, and it was taken. */
  reportedBadTransfer?: boolean;
  /** The traveler's confirmation of receipt was taken. */
  confirmedByTraveler?: boolean;
  state: string;
  settlementFailing: boolean;
}

/** What the simulation believes; fast-check's `check` reads it to pick only actions that can apply. */
export interface Model {
  trades: SimTrade[];
  /** Providers whose API the simulation made fail (down, errors, fail-after-success) and has not cleared. */
  failing: Set<Provider>;
  /** When each provider's failures were last cleared: deadlines waiting on it may lag by an outage's extension. */
  failingClearedAt: Map<Provider, number>;
}

export function emptyModel(): Model {
  return { trades: [], failing: new Set(), failingClearedAt: new Map() };
}

/** The system under test, and what the harness keeps between sequences. */
export interface Sim {
  test: TestApp;
  api: Api;
  db: Client;
  operator: TestUser;
  figures: Figures;
  /** Known findings fail the run only when SIM_STRICT is set (see known-findings.ts). */
  strict: boolean;
  /** The sweep period the service runs with: how late a deadline may be applied. */
  sweepMs: number;
  /** Responses of 500 from the platform's own API (not the mocks), and answers it must never give, during the current step. */
  serverErrors: string[];
  /** Violations seen before this sequence began: a sequence is blamed only for new ones. */
  baseline: Set<string>;
  /** The bank accounts the simulation closed (returns to them bounce). */
  closedAccounts: Set<string>;
  /** The steps of the current sequence, for the report of a failure. */
  steps: string[];
}

export function isTerminal(state: string): boolean {
  return (TERMINAL as readonly string[]).includes(state);
}

export function isSettling(state: string): boolean {
  return (SETTLING as readonly string[]).includes(state);
}

/** The trade at `pick` among those `where` accepts, or undefined: commands name trades by a number, resolved at run time. */
export function pickTrade(model: Model, pick: number, where: (t: SimTrade) => boolean = () => true): SimTrade | undefined {
  const candidates = model.trades.filter(where);
  return candidates.length === 0 ? undefined : candidates[pick % candidates.length];
}
