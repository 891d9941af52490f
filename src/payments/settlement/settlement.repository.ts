import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { EncryptedField } from '../../common/crypto/field-encryption';
import { preparedAutocommit, preparedInTransaction, preparedQuery, preparedRead } from '../../common/database/query';
import type { Trade } from '../../trades/trade.types';
import { toTrade, tradeColumns, TradeRow } from '../../trades/trade-rows';
import { FundingRecord, fundingColumns, toFundingRecord } from '../funding/funding-rows';
import type { StepName } from './settlement-plan';

export type StepStatus = 'running' | 'waiting' | 'failing' | 'done';

export interface StepRecord {
  tradeId: string;
  step: StepName;
  attempt: number;
  requestId: string;
  status: StepStatus;
  providerRef: string | null;
  startedAt: Date;
}

interface StepRow {
  trade_id: string;
  step: StepName;
  attempt: number;
  request_id: string;
  status: StepStatus;
  provider_ref: string | null;
  started_at: Date;
}

const toStep = (row: StepRow): StepRecord => ({
  tradeId: row.trade_id,
  step: row.step,
  attempt: row.attempt,
  requestId: row.request_id,
  status: row.status,
  providerRef: row.provider_ref,
  startedAt: row.started_at,
});

/** The funding record's columns beside others, each as `f_<column>`. */
const F = 'f_';
type FundingRow = Record<string, unknown>;
const toFunding = (row: FundingRow): FundingRecord => toFundingRecord(row, F);

/**
 * What a run starts from, in one read: the trade, its funding record (null before any), the record's version (its
 * row's `xmin`: any committed change of the record since this read gives it another) and whether another run holds
 * an unexpired claim.
 */
export interface SettlementView {
  trade: Trade;
  funding: FundingRecord | null;
  version: string | null;
  claimHeld: boolean;
  /** The counterparty's PayPal email as snapshotted with the trade, sealed: where the first payout goes. */
  payee: EncryptedField | null;
}

/**
 * Provider ids a step learned, written with the statement that ends the step (its stall, its finish or the end),
 * each kept if already recorded, and only for the attempt that made it (an operator's next attempt starts without
 * ids).
 */
export type StepIds =
  { payout: { attempt: number; batchId: string; itemId: string | null } } | { refund: { attempt: number; refundId: string } };

/** `SET` terms recording `ids` on trade_fundings, its parameters pushed onto `params`; with whether any id is set. */
function recordIds(ids: StepIds | null | undefined, params: unknown[]): { set: string; any: boolean } {
  const payout = ids && 'payout' in ids ? ids.payout : null;
  const refund = ids && 'refund' in ids ? ids.refund : null;
  const p = (value: unknown) => `$${params.push(value)}`;
  const payoutAttempt = p(payout?.attempt ?? null);
  const refundAttempt = p(refund?.attempt ?? null);
  const set = [
    `payout_batch_id = CASE WHEN payout_attempt = ${payoutAttempt}::int THEN coalesce(payout_batch_id, ${p(payout?.batchId ?? null)}) ELSE payout_batch_id END`,
    `payout_item_id = CASE WHEN payout_attempt = ${payoutAttempt}::int THEN coalesce(payout_item_id, ${p(payout?.itemId ?? null)}) ELSE payout_item_id END`,
    `refund_id = CASE WHEN refund_attempt = ${refundAttempt}::int THEN coalesce(refund_id, ${p(refund?.refundId ?? null)}) ELSE refund_id END`,
  ].join(', ');
  return { set, any: !!(payout || refund) };
}

/** The settlement claim of each trade and the journal of its provider steps (`settlement_steps`). */
@Injectable()
export class SettlementRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The trade, its funding record and the payout's email as a run starts from them, in one statement (null for no such trade). */
  async view(tradeId: string): Promise<SettlementView | null> {
    const rows: (TradeRow &
      FundingRow & {
        f_version: string | null;
        f_claim_held: boolean | null;
        payee_ciphertext: string | null;
        payee_key_id: string | null;
      })[] = await preparedRead(
      this.dataSource,
      `SELECT ${tradeColumns('t')}, ${fundingColumns('f', F)}, f.xmin::text AS f_version,
              f.settlement_claim IS NOT NULL AND f.settlement_claimed_until >= now() AS f_claim_held,
              t.counterparty_paypal_ciphertext AS payee_ciphertext, t.counterparty_paypal_key_id AS payee_key_id
         FROM trades t LEFT JOIN trade_fundings f ON f.trade_id = t.id WHERE t.id = $1`,
      [tradeId],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      trade: toTrade(row),
      funding: row.f_trade_id ? toFunding(row) : null,
      version: row.f_version,
      claimHeld: row.f_claim_held === true,
      payee: row.payee_ciphertext && row.payee_key_id ? { ciphertext: row.payee_ciphertext, keyId: row.payee_key_id } : null,
    };
  }

  /**
   * Claims the trade's settlement for `leaseMs`, unless another run holds an unexpired claim: one conditional
   * update, so of any number of concurrent runs exactly one gets it. With `version`, only if the funding record is
   * still as `view` read it. The funding record as it is now (the row the update wrote), or null when not claimed.
   */
  async claim(tradeId: string, token: string, leaseMs: number, version: string | null = null): Promise<FundingRecord | null> {
    const rows = await preparedAutocommit<FundingRow>(
      this.dataSource,
      `UPDATE trade_fundings SET settlement_claim = $2, settlement_claimed_until = now() + $3 * interval '1 millisecond'
        WHERE trade_id = $1 AND (settlement_claim IS NULL OR settlement_claimed_until < now() OR settlement_claim = $2)
          AND ($4::xid IS NULL OR xmin = $4::xid)
        RETURNING ${fundingColumns('trade_fundings', F)}`,
      [tradeId, token, leaseMs, version],
    );
    return rows[0] ? toFunding(rows[0]) : null;
  }

  /** Gives the claim up, if this run still holds it: on its own, or in `manager`'s transaction. */
  async release(tradeId: string, token: string, manager?: EntityManager): Promise<void> {
    await preparedQuery(
      this.dataSource,
      manager,
      `UPDATE trade_fundings SET settlement_claim = NULL, settlement_claimed_until = NULL WHERE trade_id = $1 AND settlement_claim = $2`,
      [tradeId, token],
    );
  }

  /**
   * Takes or extends this run's claim and notes that a step is under way, in one statement: nothing is noted when
   * the claim lapsed and another run took it, or (with `version`, the run's first step taking its claim) when the
   * funding record changed since `view` read it (null). The first time a step is noted it gets its request id, its
   * start, and when waiting would flag the trade. A step already done stays done; a later run of the same step
   * keeps its start, so the bound counts from the first try, and is told it is a retry (`retried`): what an
   * earlier try did may have to be looked up. With it, the funding record as the claim's update wrote it. In
   * `manager`'s transaction when given (the step before it recording what it did), else on its own.
   */
  async begin(
    manager: EntityManager | undefined,
    tradeId: string,
    token: string,
    leaseMs: number,
    version: string | null,
    step: StepName,
    attempt: number,
    requestId: string,
    flagAfterMs: number | null,
  ): Promise<(StepRecord & { retried: boolean; funding: FundingRecord }) | null> {
    const rows = await preparedQuery<StepRow & FundingRow & { first: boolean }>(
      this.dataSource,
      manager,
      `WITH claim AS (
         UPDATE trade_fundings SET settlement_claim = $2, settlement_claimed_until = now() + $3 * interval '1 millisecond'
          WHERE trade_id = $1 AND (settlement_claim IS NULL OR settlement_claimed_until < now() OR settlement_claim = $2)
            AND ($8::xid IS NULL OR xmin = $8::xid)
          RETURNING ${fundingColumns('trade_fundings', F)}
       ), begun AS (
         INSERT INTO settlement_steps (trade_id, step, attempt, request_id, status, flag_after)
         SELECT f_trade_id, $4, $5, $6, 'running', CASE WHEN $7::bigint IS NULL THEN NULL ELSE now() + $7::bigint * interval '1 millisecond' END
           FROM claim
         ON CONFLICT (trade_id, step, attempt) DO UPDATE
           SET status = CASE WHEN settlement_steps.status = 'done' THEN 'done' ELSE 'running' END, updated_at = now()
         RETURNING trade_id, step, attempt, request_id, status, provider_ref, started_at, (xmax = 0) AS first
       )
       SELECT begun.*, claim.* FROM begun, claim`,
      [tradeId, token, leaseMs, step, attempt, requestId, flagAfterMs, version],
    );
    return rows.length === 0 ? null : { ...toStep(rows[0]), retried: !rows[0].first, funding: toFunding(rows[0]) };
  }

  /**
   * The step is finished: what the provider called it, and the ids it learned (`ids`, recorded first: the funding
   * record, then the journal). Written after the transaction that records its effect (a worker that dies between
   * the two leaves it running: the next run, or the transaction that ends the trade, closes it).
   */
  async finish(
    manager: EntityManager | undefined,
    tradeId: string,
    step: StepName,
    attempt: number,
    providerRef: string | null,
    ids: StepIds | null = null,
  ): Promise<void> {
    const params: unknown[] = [tradeId, step, attempt, providerRef];
    const record = recordIds(ids, params);
    const finish = `UPDATE settlement_steps SET status = 'done', provider_ref = coalesce($4, provider_ref), last_error = NULL,
              finished_at = coalesce(finished_at, now()), updated_at = now()
        WHERE trade_id = $1 AND step = $2 AND attempt = $3`;
    if (!record.any) {
      await preparedQuery(this.dataSource, manager, finish, params.slice(0, 4));
      return;
    }
    await preparedQuery(
      this.dataSource,
      manager,
      `WITH recorded AS (UPDATE trade_fundings SET ${record.set}, updated_at = now() WHERE trade_id = $1 RETURNING trade_id)
       ${finish} AND (SELECT count(*) FROM recorded) >= 0`,
      params,
    );
  }

  /**
   * The trade's settlement is complete, in the transaction that ends it (after the transition, which holds the
   * trade's row), in one statement: the run's claim given up and the ids its last step learned recorded (the funding
   * record is written whatever the claim, so a run that read the trade before this end finds its version changed);
   * the settlement flag cleared; the run's last step (`last`, its finish left to this transaction) done with what the
   * provider called it; a step another run began and never finished (a capture into escrow whose worker died, its
   * capture since recovered by the void or found by the refund) superseded, not left to flag the ended trade when
   * its bound passes. Watches are left open: they follow what may still change.
   */
  async closeAtEnd(
    manager: EntityManager,
    tradeId: string,
    token: string,
    last: { step: StepName; attempt: number; providerRef: string | null; ids: StepIds | null } | null,
  ): Promise<void> {
    const params: unknown[] = [tradeId, last?.step ?? null, last?.attempt ?? null, last?.providerRef ?? null, token];
    const record = recordIds(last?.ids, params);
    await preparedInTransaction(
      manager,
      `WITH released AS (
         UPDATE trade_fundings SET ${record.set}, updated_at = now(),
                settlement_claim = CASE WHEN settlement_claim = $5 THEN NULL ELSE settlement_claim END,
                settlement_claimed_until = CASE WHEN settlement_claim = $5 THEN NULL ELSE settlement_claimed_until END
          WHERE trade_id = $1 RETURNING trade_id
       ), unflagged AS (
         UPDATE trades SET settlement_failing = false WHERE id = $1 AND settlement_failing RETURNING id
       )
       UPDATE settlement_steps SET status = 'done', finished_at = now(), updated_at = now(),
              provider_ref = CASE WHEN step = $2 AND attempt = $3 THEN coalesce($4, provider_ref) ELSE provider_ref END,
              last_error = CASE WHEN step = $2 AND attempt = $3 THEN NULL
                                ELSE 'superseded: the settlement that ended the trade did not need it' END
        WHERE trade_id = $1 AND status <> 'done' AND step NOT IN ('watch_payout', 'watch_bank_return')
          AND (SELECT count(*) FROM released) + (SELECT count(*) FROM unflagged) >= 0`,
      params,
    );
  }

  /**
   * The provider has not finished (`waiting`) or failed (`failing`, with a message that names no person); true when
   * the step has now waited past its bound, so the caller flags the trade.
   */
  async stall(
    tradeId: string,
    step: StepName,
    attempt: number,
    status: 'waiting' | 'failing',
    message: string,
    providerRef: string | null = null,
  ): Promise<{ overdue: boolean; ageMs: number }> {
    const rows = await preparedAutocommit<{ overdue: boolean; age_ms: string }>(
      this.dataSource,
      `UPDATE settlement_steps SET status = $4, last_error = $5, provider_ref = coalesce($6, provider_ref), updated_at = now()
        WHERE trade_id = $1 AND step = $2 AND attempt = $3 AND status <> 'done'
        RETURNING flag_after IS NOT NULL AND flag_after <= now() AS overdue,
                  floor(extract(epoch FROM now() - started_at) * 1000)::bigint AS age_ms`,
      [tradeId, step, attempt, status, message.slice(0, 500), providerRef],
    );
    return { overdue: rows[0]?.overdue ?? false, ageMs: Number(rows[0]?.age_ms ?? 0) };
  }

  /**
   * `stall`, and the run that stalled gives its claim up and records the ids the step learned before it stalled (a
   * payout created and still pending), in one statement: the claim's row first (the funding record, then the
   * journal: the order every settlement statement takes them in). The stall and the ids are written whether or not
   * the run still held the claim.
   */
  async stallAndRelease(
    tradeId: string,
    token: string,
    step: StepName,
    attempt: number,
    status: 'waiting' | 'failing',
    message: string,
    ids: StepIds | null = null,
  ): Promise<{ overdue: boolean }> {
    const params: unknown[] = [tradeId, step, attempt, status, message.slice(0, 500), token];
    const record = recordIds(ids, params);
    const rows = await preparedAutocommit<{ overdue: boolean }>(
      this.dataSource,
      `WITH released AS (
         UPDATE trade_fundings SET ${record.any ? `${record.set}, updated_at = now(),` : ''}
                settlement_claim = CASE WHEN settlement_claim = $6 THEN NULL ELSE settlement_claim END,
                settlement_claimed_until = CASE WHEN settlement_claim = $6 THEN NULL ELSE settlement_claimed_until END
          WHERE trade_id = $1 AND (settlement_claim = $6 OR ${record.any ? 'true' : 'false'}) RETURNING trade_id
       )
       UPDATE settlement_steps SET status = $4, last_error = $5, updated_at = now()
        WHERE trade_id = $1 AND step = $2 AND attempt = $3 AND status <> 'done' AND (SELECT count(*) FROM released) >= 0
        RETURNING flag_after IS NOT NULL AND flag_after <= now() AS overdue`,
      record.any ? params : params.slice(0, 6),
    );
    return { overdue: rows[0]?.overdue ?? false };
  }

  /**
   * Records a payout's ids the moment PayPal has answered with them, apart from the statement that ends the step: from
   * that answer the payout exists at PayPal, its item's webhooks find the trade by them, and a run that fails before
   * the step's end (the completing transaction refused, the worker killed) leaves them known to the next run and to
   * operators. Only for the attempt that made them; ids already recorded are kept.
   */
  async recordProviderIds(tradeId: string, ids: StepIds): Promise<void> {
    const params: unknown[] = [tradeId];
    const record = recordIds(ids, params);
    await preparedAutocommit(this.dataSource, `UPDATE trade_fundings SET ${record.set}, updated_at = now() WHERE trade_id = $1`, params);
  }

  /**
   * Starts watching an outcome that may still change after the end, in the transaction that completes the trade:
   * `flagAfterMs` from now it flags the trade if still not final (null: it never flags, it just ends).
   */
  async beginWatch(
    manager: EntityManager,
    tradeId: string,
    step: StepName,
    attempt: number,
    requestId: string,
    flagAfterMs: number | null,
  ): Promise<void> {
    await manager.query(
      `INSERT INTO settlement_steps (trade_id, step, attempt, request_id, status, flag_after)
       VALUES ($1, $2, $3, $4, 'waiting', CASE WHEN $5::bigint IS NULL THEN NULL ELSE now() + $5::bigint * interval '1 millisecond' END)
       ON CONFLICT (trade_id, step, attempt) DO NOTHING`,
      [tradeId, step, attempt, requestId, flagAfterMs],
    );
  }

  /** Whether the attempt's outcome was ever watched (a finished watch is final). */
  async everWatched(tradeId: string, step: StepName, attempt: number): Promise<boolean> {
    const rows = await this.dataSource.query(`SELECT 1 FROM settlement_steps WHERE trade_id = $1 AND step = $2 AND attempt = $3`, [
      tradeId,
      step,
      attempt,
    ]);
    return rows.length > 0;
  }

  /** The watch of one attempt, if it is still open. */
  async openWatch(tradeId: string, step: StepName, attempt: number): Promise<boolean> {
    const rows = await this.dataSource.query(
      `SELECT 1 FROM settlement_steps WHERE trade_id = $1 AND step = $2 AND attempt = $3 AND status <> 'done'`,
      [tradeId, step, attempt],
    );
    return rows.length > 0;
  }
}
