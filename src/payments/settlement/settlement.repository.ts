import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../../common/database/query';
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

/** The settlement claim of each trade and the journal of its provider steps (`settlement_steps`). */
@Injectable()
export class SettlementRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Claims the trade's settlement for `leaseMs`, unless another run holds an unexpired claim: one conditional
   * update, so of any number of concurrent runs exactly one gets it. False when another run holds it.
   */
  async claim(tradeId: string, token: string, leaseMs: number): Promise<boolean> {
    const rows = await returningRows(
      this.dataSource.manager,
      `UPDATE trade_fundings SET settlement_claim = $2, settlement_claimed_until = now() + $3 * interval '1 millisecond'
        WHERE trade_id = $1 AND (settlement_claim IS NULL OR settlement_claimed_until < now() OR settlement_claim = $2)
        RETURNING trade_id`,
      [tradeId, token, leaseMs],
    );
    return rows.length === 1;
  }

  /** Gives the claim up, if this run still holds it: on its own, or in `manager`'s transaction. */
  async release(tradeId: string, token: string, manager?: EntityManager): Promise<void> {
    await (manager ?? this.dataSource.manager).query(
      `UPDATE trade_fundings SET settlement_claim = NULL, settlement_claimed_until = NULL WHERE trade_id = $1 AND settlement_claim = $2`,
      [tradeId, token],
    );
  }

  /**
   * Extends the claim this run holds and notes that a step is under way, in one statement: nothing is noted when
   * the claim lapsed and another run took it (null). The first time a step is noted it gets its request id, its
   * start, and when waiting would flag the trade. A step already done stays done; a later run of the same step
   * keeps its start, so the bound counts from the first try, and is told it is a retry (`retried`): what an
   * earlier try did may have to be looked up.
   */
  async renewAndBegin(
    tradeId: string,
    token: string,
    leaseMs: number,
    step: StepName,
    attempt: number,
    requestId: string,
    flagAfterMs: number | null,
  ): Promise<(StepRecord & { retried: boolean }) | null> {
    const rows: (StepRow & { first: boolean })[] = await this.dataSource.query(
      `WITH claim AS (
         UPDATE trade_fundings SET settlement_claim = $2, settlement_claimed_until = now() + $3 * interval '1 millisecond'
          WHERE trade_id = $1 AND (settlement_claim IS NULL OR settlement_claimed_until < now() OR settlement_claim = $2)
          RETURNING trade_id
       )
       INSERT INTO settlement_steps (trade_id, step, attempt, request_id, status, flag_after)
       SELECT trade_id, $4, $5, $6, 'running', CASE WHEN $7::bigint IS NULL THEN NULL ELSE now() + $7::bigint * interval '1 millisecond' END
         FROM claim
       ON CONFLICT (trade_id, step, attempt) DO UPDATE
         SET status = CASE WHEN settlement_steps.status = 'done' THEN 'done' ELSE 'running' END, updated_at = now()
       RETURNING trade_id, step, attempt, request_id, status, provider_ref, started_at, (xmax = 0) AS first`,
      [tradeId, token, leaseMs, step, attempt, requestId, flagAfterMs],
    );
    return rows.length === 0 ? null : { ...toStep(rows[0]), retried: !rows[0].first };
  }

  /**
   * The step is finished: what the provider called it. Written after the transaction that records its effect (a
   * worker that dies between the two leaves it running: the next run, or the transaction that ends the trade, closes it).
   */
  async finish(
    manager: EntityManager | undefined,
    tradeId: string,
    step: StepName,
    attempt: number,
    providerRef: string | null,
  ): Promise<void> {
    await (manager ?? this.dataSource.manager).query(
      `UPDATE settlement_steps SET status = 'done', provider_ref = coalesce($4, provider_ref), last_error = NULL,
              finished_at = coalesce(finished_at, now()), updated_at = now()
        WHERE trade_id = $1 AND step = $2 AND attempt = $3`,
      [tradeId, step, attempt, providerRef],
    );
  }

  /**
   * The trade's settlement is complete, in the transaction that ends it: the run's last step (`last`, its
   * finish left to this transaction) is done with what the provider called it; a step another run began and never
   * finished (a capture into escrow whose worker died, its capture since recovered by the void or found by the
   * refund) is superseded, not left to flag the ended trade when its bound passes. One statement. Watches are left
   * open: they follow what may still change.
   */
  async closeAtEnd(
    manager: EntityManager,
    tradeId: string,
    last: { step: StepName; attempt: number; providerRef: string | null } | null,
  ): Promise<void> {
    await manager.query(
      `UPDATE settlement_steps SET status = 'done', finished_at = now(), updated_at = now(),
              provider_ref = CASE WHEN step = $2 AND attempt = $3 THEN coalesce($4, provider_ref) ELSE provider_ref END,
              last_error = CASE WHEN step = $2 AND attempt = $3 THEN NULL
                                ELSE 'superseded: the settlement that ended the trade did not need it' END
        WHERE trade_id = $1 AND status <> 'done' AND step NOT IN ('watch_payout', 'watch_bank_return')`,
      [tradeId, last?.step ?? null, last?.attempt ?? null, last?.providerRef ?? null],
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
    const rows = await returningRows<{ overdue: boolean; age_ms: string }>(
      this.dataSource.manager,
      `UPDATE settlement_steps SET status = $4, last_error = $5, provider_ref = coalesce($6, provider_ref), updated_at = now()
        WHERE trade_id = $1 AND step = $2 AND attempt = $3 AND status <> 'done'
        RETURNING flag_after IS NOT NULL AND flag_after <= now() AS overdue,
                  floor(extract(epoch FROM now() - started_at) * 1000)::bigint AS age_ms`,
      [tradeId, step, attempt, status, message.slice(0, 500), providerRef],
    );
    return { overdue: rows[0]?.overdue ?? false, ageMs: Number(rows[0]?.age_ms ?? 0) };
  }

  /**
   * `stall`, and the run that stalled gives its claim up, in one statement: the claim's row first (the funding
   * record, then the journal: the order every settlement statement takes them in). The stall is written whether or
   * not the run still held the claim.
   */
  async stallAndRelease(
    tradeId: string,
    token: string,
    step: StepName,
    attempt: number,
    status: 'waiting' | 'failing',
    message: string,
  ): Promise<{ overdue: boolean }> {
    const rows = await returningRows<{ overdue: boolean }>(
      this.dataSource.manager,
      `WITH released AS (
         UPDATE trade_fundings SET settlement_claim = NULL, settlement_claimed_until = NULL
          WHERE trade_id = $1 AND settlement_claim = $6 RETURNING trade_id
       )
       UPDATE settlement_steps SET status = $4, last_error = $5, updated_at = now()
        WHERE trade_id = $1 AND step = $2 AND attempt = $3 AND status <> 'done' AND (SELECT count(*) FROM released) >= 0
        RETURNING flag_after IS NOT NULL AND flag_after <= now() AS overdue`,
      [tradeId, step, attempt, status, message.slice(0, 500), token],
    );
    return { overdue: rows[0]?.overdue ?? false };
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

  async steps(tradeId: string): Promise<StepRecord[]> {
    const rows: StepRow[] = await this.dataSource.query(
      `SELECT trade_id, step, attempt, request_id, status, provider_ref, started_at FROM settlement_steps
        WHERE trade_id = $1 ORDER BY started_at, step`,
      [tradeId],
    );
    return rows.map(toStep);
  }
}
