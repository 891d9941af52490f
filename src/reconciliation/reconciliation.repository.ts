import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../common/database/query';
import { Finding, SETTLING_STATES, TradeFacts } from './mismatch';

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

export interface RunRecord {
  runId: number;
  findings: Finding[];
  /** Subjects looked at conclusively this run: their open mismatches not found again are resolved. */
  checkedSubjects: string[];
  watch: { tradeId: string; reason: string }[];
  /** Trades whose outcomes are final now: no longer watched. */
  unwatch: string[];
  watchMs: number;
  cursor: RunCursor;
  checkedTrades: number;
  inconclusiveTrades: number;
  totals: Record<string, unknown>;
}

export interface MismatchRow {
  trade_id: string | null;
  kind: string;
  ledger: Record<string, unknown> | null;
  provider: Record<string, unknown> | null;
  detail: string;
  opened_at: Date;
  last_seen_at: Date;
}

export interface RunRow {
  id: string;
  trigger: string;
  started_at: Date;
  finished_at: Date;
  checked_trades: number;
  inconclusive_trades: number;
  opened: number;
  resolved: number;
  totals: Record<string, unknown> | null;
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

/** Reconciliation's SQL: its runs, mismatches and watch list, and the reads of trades, fundings and the ledger it compares. */
@Injectable()
export class ReconciliationRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Claims the one running slot (a run older than the lease is taken as dead); null while another run holds it. */
  async startRun(trigger: 'schedule' | 'operator', leaseMs: number): Promise<number | null> {
    await this.dataSource.query(
      `UPDATE reconciliation_runs SET finished_at = now(), error = 'abandoned'
        WHERE finished_at IS NULL AND started_at < now() - $1 * interval '1 millisecond'`,
      [leaseMs],
    );
    const rows: { id: string }[] = await this.dataSource.query(
      `INSERT INTO reconciliation_runs (trigger) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id`,
      [trigger],
    );
    return rows[0] ? Number(rows[0].id) : null;
  }

  async failRun(runId: number, error: string): Promise<void> {
    await this.dataSource.query(`UPDATE reconciliation_runs SET finished_at = now(), error = $2 WHERE id = $1 AND finished_at IS NULL`, [
      runId,
      error.slice(0, 500),
    ]);
  }

  /** The cursor the last successful run left. */
  async cursor(): Promise<RunCursor> {
    const rows: { updated_at: string | null; trade_id: string | null; searched: Date | null; bank: Date | null }[] =
      await this.dataSource.query(
        `SELECT cursor_updated_at::text AS updated_at, cursor_trade_id AS trade_id, payouts_searched_until AS searched,
                bank_searched_until AS bank
           FROM reconciliation_runs WHERE finished_at IS NOT NULL AND error IS NULL ORDER BY id DESC LIMIT 1`,
      );
    return {
      updatedAt: rows[0]?.updated_at ?? null,
      tradeId: rows[0]?.trade_id ?? null,
      payoutsSearchedUntil: rows[0]?.searched ?? null,
      bankSearchedUntil: rows[0]?.bank ?? null,
    };
  }

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

  /** Which of these incoming bank transfers the books took (decided once each). */
  async knownIncoming(transferIds: string[]): Promise<Set<string>> {
    if (transferIds.length === 0) return new Set();
    const rows: { transfer_id: string }[] = await this.dataSource.query(
      `SELECT transfer_id FROM bank_incoming_transfers WHERE transfer_id = ANY($1)`,
      [transferIds],
    );
    return new Set(rows.map((r) => r.transfer_id));
  }

  /** The trade each of these (normalized) bank references belongs to. */
  async tradesOfReferences(references: string[]): Promise<Map<string, string>> {
    if (references.length === 0) return new Map();
    const rows: { trade_id: string; bank_reference: string }[] = await this.dataSource.query(
      `SELECT trade_id, bank_reference FROM trade_fundings WHERE bank_reference = ANY($1)`,
      [references],
    );
    return new Map(rows.map((r) => [r.bank_reference, r.trade_id]));
  }

  /** The trade each of these payout batches is recorded for (the current attempt's batch). */
  async tradesOfBatches(batchIds: string[]): Promise<Map<string, string>> {
    if (batchIds.length === 0) return new Map();
    const rows: { trade_id: string; payout_batch_id: string }[] = await this.dataSource.query(
      `SELECT trade_id, payout_batch_id FROM trade_fundings WHERE payout_batch_id = ANY($1)`,
      [batchIds],
    );
    return new Map(rows.map((r) => [r.payout_batch_id, r.trade_id]));
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
              t.wechat_transfer_id, t.updated_at, f.provider, f.authorization_id, f.capture_id, f.payout_batch_id, f.bank_reference,
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

  /**
   * Records a run in one transaction: findings opened or seen again, mismatches of checked subjects not seen
   * again resolved, every trade with an open mismatch flagged (and a flag reconciliation raised cleared once
   * its trade's mismatches are resolved and it owes nothing), the watch list, and the run's cursor.
   */
  async record(input: RunRecord): Promise<{ opened: number; resolved: number }> {
    return this.dataSource.transaction(async (manager) => {
      let opened = 0;
      for (const f of input.findings) {
        const rows: { inserted: boolean }[] = await manager.query(
          `INSERT INTO reconciliation_mismatches (kind, subject, trade_id, ledger, provider, detail, opened_run, last_seen_run)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
           ON CONFLICT (kind, subject) WHERE resolved_at IS NULL DO UPDATE
             SET ledger = EXCLUDED.ledger, provider = EXCLUDED.provider, detail = EXCLUDED.detail,
                 last_seen_run = EXCLUDED.last_seen_run, last_seen_at = now()
           RETURNING (xmax = 0) AS inserted`,
          [f.kind, f.subject, f.tradeId, f.ledger, f.provider, f.detail, input.runId],
        );
        if (rows[0]?.inserted) opened += 1;
      }
      const resolved = await returningRows<{ trade_id: string | null; raised_flag: boolean }>(
        manager,
        `UPDATE reconciliation_mismatches SET resolved_at = now(), resolved_run = $1
          WHERE resolved_at IS NULL AND subject = ANY($2) AND last_seen_run <> $1 RETURNING trade_id, raised_flag`,
        [input.runId, input.checkedSubjects],
      );
      await this.flagTrades(manager);
      const raisedBy = [...new Set(resolved.filter((r) => r.raised_flag && r.trade_id).map((r) => r.trade_id!))];
      await this.clearFlags(manager, raisedBy);
      await this.updateWatch(manager, input);
      await manager.query(
        `UPDATE reconciliation_runs SET finished_at = now(), checked_trades = $2, inconclusive_trades = $3, opened = $4, resolved = $5,
                cursor_updated_at = $6, cursor_trade_id = $7, payouts_searched_until = $8, bank_searched_until = $10, totals = $9
          WHERE id = $1`,
        [
          input.runId,
          input.checkedTrades,
          input.inconclusiveTrades,
          opened,
          resolved.length,
          input.cursor.updatedAt,
          input.cursor.tradeId,
          input.cursor.payoutsSearchedUntil,
          input.totals,
          input.cursor.bankSearchedUntil,
        ],
      );
      return { opened, resolved: resolved.length };
    });
  }

  /** Every trade with an open mismatch shows as `settlementFailing` to operators; the mismatches that raised it say so. */
  private async flagTrades(manager: EntityManager): Promise<void> {
    const flagged = await returningRows<{ id: string }>(
      manager,
      // Trade rows locked in id order, as every transaction that takes more than one does.
      `WITH locked AS (
         SELECT id FROM trades
          WHERE id IN (SELECT trade_id FROM reconciliation_mismatches WHERE resolved_at IS NULL AND trade_id IS NOT NULL)
            AND NOT settlement_failing
          ORDER BY id FOR UPDATE
       )
       UPDATE trades t SET settlement_failing = true, updated_at = now() FROM locked
        WHERE t.id = locked.id AND NOT t.settlement_failing RETURNING t.id`,
      [],
    );
    if (flagged.length === 0) return;
    await manager.query(`UPDATE reconciliation_mismatches SET raised_flag = true WHERE resolved_at IS NULL AND trade_id = ANY($1)`, [
      flagged.map((r) => r.id),
    ]);
  }

  /**
   * Clears a flag reconciliation raised, once nothing else holds it: no open mismatch, not settling (settlement
   * owns the flag then), no leg that came back, and no payable open in the books.
   */
  private async clearFlags(manager: EntityManager, tradeIds: string[]): Promise<void> {
    if (tradeIds.length === 0) return;
    await manager.query(
      `WITH locked AS (SELECT id FROM trades WHERE id = ANY($1) AND settlement_failing ORDER BY id FOR UPDATE)
       UPDATE trades t SET settlement_failing = false, updated_at = now() FROM locked
        WHERE t.id = locked.id AND t.settlement_failing AND NOT (t.state = ANY($2))
          AND NOT EXISTS (SELECT 1 FROM reconciliation_mismatches m WHERE m.trade_id = t.id AND m.resolved_at IS NULL)
          AND NOT EXISTS (SELECT 1 FROM trade_fundings f WHERE f.trade_id = t.id AND (f.payout_returned OR f.refund_returned))
          AND NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.trade_id = t.id
                           AND a.kind IN ('counterparty_payable', 'traveler_refund_payable') AND a.credits_posted <> a.debits_posted)`,
      [tradeIds, SETTLING_STATES],
    );
  }

  private async updateWatch(manager: EntityManager, input: RunRecord): Promise<void> {
    for (const w of input.watch) {
      // The first sighting sets the horizon: an outcome that never becomes final stops being asked about.
      await manager.query(
        `INSERT INTO reconciliation_watch (trade_id, reason, until) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
         ON CONFLICT (trade_id) DO UPDATE SET reason = EXCLUDED.reason, updated_at = now()`,
        [w.tradeId, w.reason, input.watchMs],
      );
    }
    if (input.unwatch.length > 0) await manager.query(`DELETE FROM reconciliation_watch WHERE trade_id = ANY($1)`, [input.unwatch]);
    await manager.query(`DELETE FROM reconciliation_watch WHERE until <= now()`);
  }

  /** The last run that finished without error. */
  async lastRun(): Promise<RunRow | null> {
    const rows: RunRow[] = await this.dataSource.query(
      `SELECT id, trigger, started_at, finished_at, checked_trades, inconclusive_trades, opened, resolved, totals
         FROM reconciliation_runs WHERE finished_at IS NOT NULL AND error IS NULL ORDER BY id DESC LIMIT 1`,
    );
    return rows[0] ?? null;
  }

  async openMismatches(limit: number): Promise<{ rows: MismatchRow[]; total: number }> {
    const rows: MismatchRow[] = await this.dataSource.query(
      `SELECT trade_id, kind, ledger, provider, detail, opened_at, last_seen_at FROM reconciliation_mismatches
        WHERE resolved_at IS NULL ORDER BY id LIMIT $1`,
      [limit],
    );
    const total: { n: number }[] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM reconciliation_mismatches WHERE resolved_at IS NULL`,
    );
    return { rows, total: total[0].n };
  }

  async openCountsByKind(): Promise<{ kind: string; n: number }[]> {
    return this.dataSource.query(`SELECT kind, count(*)::int AS n FROM reconciliation_mismatches WHERE resolved_at IS NULL GROUP BY kind`);
  }

  async lastFinishedAt(): Promise<Date | null> {
    const rows: { at: Date | null }[] = await this.dataSource.query(
      `SELECT max(finished_at) AS at FROM reconciliation_runs WHERE finished_at IS NOT NULL AND error IS NULL`,
    );
    return rows[0]?.at ?? null;
  }
}
