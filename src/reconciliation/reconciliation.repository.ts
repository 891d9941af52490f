import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { TradeFacts } from './mismatch';
import { SETTLING_STATES } from '../trades/trade.state-machine';

/** Where the next run continues: trades after `(updatedAt, id)`, PayPal's payouts after `payoutsSearchedUntil`. */
export interface RunCursor {
  /** The microsecond timestamp as PostgreSQL prints it: a JavaScript date would round it and see trades again. */
  updatedAt: string | null;
  tradeId: string | null;
  payoutsSearchedUntil: Date | null;
  bankSearchedUntil: Date | null;
}

export interface PlatformTotals {
  feeRevenueLedger: bigint;
  feeRevenueExpected: bigint;
  suspenseLedger: bigint;
  suspenseExpected: bigint;
  payablesLedger: bigint;
  payablesOwed: bigint;
}

interface FactsRow {
  id: string;
  state: string;
  amount_usd: string;
  amount_cny: string;
  fee_usd: string;
  payment_method: 'paypal' | 'bank_transfer';
  split_traveler_usd: string | null;
  split_counterparty_usd: string | null;
  wechat_transfer_id: string | null;
  decided_by_operator: boolean;
  released_on_traveler_word: boolean;
  updated_at: Date;
  provider: 'paypal' | 'bank_transfer';
  authorization_id: string | null;
  capture_id: string | null;
  payout_batch_id: string | null;
  bank_reference: string | null;
  bank_transfer_id: string | null;
  refund_id: string | null;
  payout_attempt: number;
  refund_attempt: number;
  funded: string | null;
}

interface IncomingRow {
  transfer_id: string;
  trade_id: string;
  amount_usd: string;
  suspense_usd: string;
  return_id: string | null;
  returned_at: Date | null;
  bounced_at: Date | null;
  return_failed_at: Date | null;
}

const NO_TIME = '-infinity';
const NO_ID = '00000000-0000-0000-0000-000000000000';

/** Reconciliation's reads of what it compares: trades, their fundings, the ledger, incoming bank transfers, open mismatches. */
@Injectable()
export class ReconciliationRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Trades changed after the cursor and at least `lagMs` ago (a later commit may still carry an earlier `updated_at`), with something to reconcile. */
  async changedTrades(cursor: RunCursor, lagMs: number, limit: number): Promise<{ id: string; updatedAt: string }[]> {
    const rows: { id: string; updated_at: string }[] = await this.dataSource.query(
      `SELECT t.id, t.updated_at::text AS updated_at FROM trades t
        WHERE (t.updated_at, t.id) > ($1::timestamptz, $2::uuid) AND t.updated_at <= now() - $3 * interval '1 millisecond'
          AND (t.wechat_transfer_id IS NOT NULL OR EXISTS (SELECT 1 FROM trade_fundings f WHERE f.trade_id = t.id))
        ORDER BY t.updated_at, t.id LIMIT $4`,
      [cursor.updatedAt ?? NO_TIME, cursor.tradeId ?? NO_ID, lagMs, limit],
    );
    return rows.map((r) => ({ id: r.id, updatedAt: r.updated_at }));
  }

  /** Trades checked every run whatever changed: settling, watched for a provider outcome, or with an open mismatch. */
  async recheckedTrades(limit: number): Promise<string[]> {
    const rows: { id: string }[] = await this.dataSource.query(
      `(SELECT id FROM trades WHERE state = ANY($1) ORDER BY updated_at LIMIT $2)
       UNION (SELECT trade_id FROM reconciliation_watch WHERE until > now() ORDER BY updated_at LIMIT $2)
       UNION (SELECT trade_id FROM reconciliation_mismatches WHERE resolved_at IS NULL AND trade_id IS NOT NULL ORDER BY id LIMIT $2)`,
      [SETTLING_STATES, limit],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Provider records the open mismatches of these trades name that the trade's own records do not (found by an
   * earlier search): payout batches, and incoming bank transfers.
   */
  async openMismatchRecords(tradeIds: string[]): Promise<{ tradeId: string; batchId: string | null; transferId: string | null }[]> {
    if (tradeIds.length === 0) return [];
    const rows: { trade_id: string; batch_id: string | null; transfer_id: string | null }[] = await this.dataSource.query(
      `SELECT DISTINCT trade_id, provider->>'payoutBatchId' AS batch_id,
              CASE WHEN kind = 'bank_incoming_unknown_to_ledger' THEN provider->>'transferId' END AS transfer_id
         FROM reconciliation_mismatches
        WHERE resolved_at IS NULL AND trade_id = ANY($1) AND (provider ? 'payoutBatchId' OR kind = 'bank_incoming_unknown_to_ledger')`,
      [tradeIds],
    );
    return rows.map((r) => ({ tradeId: r.trade_id, batchId: r.batch_id, transferId: r.transfer_id }));
  }

  /** Open mismatches about money no trade owns (`<prefix><id>`), to look at again: their ids. */
  async openOrphans(prefix: 'paypal-batch:' | 'bank-transfer:'): Promise<string[]> {
    const rows: { subject: string }[] = await this.dataSource.query(
      `SELECT subject FROM reconciliation_mismatches WHERE resolved_at IS NULL AND starts_with(subject, $1) LIMIT 1000`,
      [prefix],
    );
    return rows.map((r) => r.subject.slice(prefix.length));
  }

  /** The trade each of these (normalized) bank references belongs to. */
  tradesOfReferences(references: string[]): Promise<Map<string, string>> {
    return this.tradesBy('bank_reference', references);
  }

  /** The trade each of these payout batches is recorded for (the current attempt's batch). */
  tradesOfBatches(batchIds: string[]): Promise<Map<string, string>> {
    return this.tradesBy('payout_batch_id', batchIds);
  }

  private async tradesBy(column: 'bank_reference' | 'payout_batch_id', values: string[]): Promise<Map<string, string>> {
    if (values.length === 0) return new Map();
    const rows: { trade_id: string; value: string }[] = await this.dataSource.query(
      `SELECT trade_id, ${column} AS value FROM trade_fundings WHERE ${column} = ANY($1)`,
      [values],
    );
    return new Map(rows.map((r) => [r.value, r.trade_id]));
  }

  async existingTrades(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows: { id: string }[] = await this.dataSource.query(`SELECT id FROM trades WHERE id = ANY($1::uuid[])`, [ids]);
    return new Set(rows.map((r) => r.id));
  }

  /** Each trade as the books have it, in three reads however many trades. */
  async facts(ids: string[]): Promise<TradeFacts[]> {
    if (ids.length === 0) return [];
    const trades: FactsRow[] = await this.dataSource.query(
      `SELECT t.id, t.state, t.amount_usd, t.amount_cny, t.fee_usd, t.payment_method, t.split_traveler_usd, t.split_counterparty_usd,
              t.wechat_transfer_id, t.dispute_id IS NOT NULL AS decided_by_operator,
              EXISTS (SELECT 1 FROM trade_events e WHERE e.trade_id = t.id AND e.to_state = 'releasing'
                         AND e.detail->>'reason' = 'receipt_confirmed') AS released_on_traveler_word,
              t.updated_at, f.provider, f.authorization_id, f.capture_id, f.payout_batch_id, f.bank_reference,
              f.bank_transfer_id, f.refund_id, f.payout_attempt, f.refund_attempt, f.trade_id AS funded
         FROM trades t LEFT JOIN trade_fundings f ON f.trade_id = t.id WHERE t.id = ANY($1)`,
      [ids],
    );
    const entries: { trade_id: string; kind: string; amount: string }[] = await this.dataSource.query(
      `SELECT trade_id, kind, amount FROM ledger_transfers WHERE trade_id = ANY($1)`,
      [ids],
    );
    const incoming: IncomingRow[] = await this.dataSource.query(
      `SELECT transfer_id, trade_id, amount_usd, suspense_usd, return_id, returned_at, bounced_at, return_failed_at
         FROM bank_incoming_transfers WHERE trade_id = ANY($1) ORDER BY created_at`,
      [ids],
    );
    const money = (value: string | null) => (value === null ? null : BigInt(value));
    return trades.map((t) => ({
      id: t.id,
      state: t.state,
      amountUsd: BigInt(t.amount_usd),
      amountCny: BigInt(t.amount_cny),
      feeUsd: BigInt(t.fee_usd),
      paymentMethod: t.payment_method,
      splitTravelerUsd: money(t.split_traveler_usd),
      splitCounterpartyUsd: money(t.split_counterparty_usd),
      wechatTransferId: t.wechat_transfer_id,
      decidedByOperator: t.decided_by_operator,
      releasedOnTravelerWord: t.released_on_traveler_word,
      updatedAt: t.updated_at,
      funding: t.funded
        ? {
            provider: t.provider,
            authorizationId: t.authorization_id,
            captureId: t.capture_id,
            payoutBatchId: t.payout_batch_id,
            bankReference: t.bank_reference,
            bankTransferId: t.bank_transfer_id,
            refundId: t.refund_id,
            payoutAttempt: t.payout_attempt,
            refundAttempt: t.refund_attempt,
          }
        : null,
      entries: new Map(entries.filter((e) => e.trade_id === t.id).map((e) => [e.kind, BigInt(e.amount)])),
      incoming: incoming
        .filter((i) => i.trade_id === t.id)
        .map((i) => ({
          transferId: i.transfer_id,
          amountUsd: BigInt(i.amount_usd),
          suspenseUsd: BigInt(i.suspense_usd),
          returnId: i.return_id,
          returnedAt: i.returned_at,
          bouncedAt: i.bounced_at,
          returnFailedAt: i.return_failed_at,
        })),
    }));
  }

  /**
   * Platform totals and their sources: fee revenue against the fees of completed and split trades; suspense
   * against the incoming transfers whose suspense has not gone back (or came back again); the open payables
   * against those of trades that owe a leg (settling, or a payout or refund that came back and is paid again).
   */
  async platformTotals(): Promise<PlatformTotals> {
    const rows: Record<string, string>[] = await this.dataSource.query(
      `SELECT
         (SELECT coalesce(sum(credits_posted - debits_posted), 0) FROM ledger_accounts WHERE kind = 'fee_revenue')::text AS fee_ledger,
         (SELECT coalesce(sum(fee_usd), 0) FROM trades WHERE state IN ('completed', 'settled_split'))::text AS fee_expected,
         (SELECT coalesce(sum(credits_posted - debits_posted), 0) FROM ledger_accounts WHERE kind = 'suspense')::text AS suspense_ledger,
         (SELECT coalesce(sum(suspense_usd), 0) FROM bank_incoming_transfers
           WHERE suspense_usd > 0 AND (returned_at IS NULL OR bounced_at IS NOT NULL))::text AS suspense_expected,
         (SELECT coalesce(sum(credits_posted - debits_posted), 0) FROM ledger_accounts
           WHERE kind IN ('counterparty_payable', 'traveler_refund_payable'))::text AS payables_ledger,
         (SELECT coalesce(sum(a.credits_posted - a.debits_posted), 0) FROM ledger_accounts a
            JOIN trades t ON t.id = a.trade_id JOIN trade_fundings f ON f.trade_id = a.trade_id
           WHERE a.kind IN ('counterparty_payable', 'traveler_refund_payable')
             AND (t.state = ANY($1) OR f.payout_returned OR f.refund_returned OR f.payout_attempt > 1 OR f.refund_attempt > 1))::text AS payables_owed`,
      [SETTLING_STATES],
    );
    const r = rows[0];
    return {
      feeRevenueLedger: BigInt(r.fee_ledger),
      feeRevenueExpected: BigInt(r.fee_expected),
      suspenseLedger: BigInt(r.suspense_ledger),
      suspenseExpected: BigInt(r.suspense_expected),
      payablesLedger: BigInt(r.payables_ledger),
      payablesOwed: BigInt(r.payables_owed),
    };
  }
}
