import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../common/database/query';
import { TradeSettlementRepository } from '../trades/trade-settlement.repository';
import { Finding } from './mismatch';
import { SETTLING_STATES } from '../trades/trade.state-machine';
import { RunCursor } from './reconciliation.repository';

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

/** Reconciliation's own records: runs (one at a time, with their cursor), mismatches, the watch list, and the flags they raise. */
@Injectable()
export class ReconciliationRunsRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly tradeFlags: TradeSettlementRepository,
  ) {}

  /** Claims the one running slot (a run silent for longer than the lease is taken as dead); null while another run holds it. */
  async startRun(trigger: 'schedule' | 'operator', leaseMs: number): Promise<number | null> {
    await this.dataSource.query(
      `UPDATE reconciliation_runs SET finished_at = now(), error = 'abandoned'
        WHERE finished_at IS NULL AND alive_at < now() - $1 * interval '1 millisecond'`,
      [leaseMs],
    );
    const rows: { id: string }[] = await this.dataSource.query(
      `INSERT INTO reconciliation_runs (trigger) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id`,
      [trigger],
    );
    return rows[0] ? Number(rows[0].id) : null;
  }

  /** The run is still working; false when it was taken as dead meanwhile (it must not record). */
  async touchRun(runId: number): Promise<boolean> {
    const rows = await returningRows(
      this.dataSource.manager,
      `UPDATE reconciliation_runs SET alive_at = now() WHERE id = $1 AND finished_at IS NULL RETURNING id`,
      [runId],
    );
    return rows.length === 1;
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

  /**
   * Records a run in one transaction: findings opened or seen again, mismatches of checked subjects not seen
   * again resolved, every trade with an open mismatch flagged (and a flag reconciliation raised cleared once
   * its trade's mismatches are resolved and it owes nothing), the watch list, and the run's cursor.
   */
  async record(input: RunRecord): Promise<{ opened: number; resolved: number }> {
    return this.dataSource.transaction(async (manager) => {
      // A run taken as dead meanwhile records nothing: its slot, and the cursor, belong to the run after it.
      const alive = await manager.query(`SELECT id FROM reconciliation_runs WHERE id = $1 AND finished_at IS NULL FOR UPDATE`, [
        input.runId,
      ]);
      if (alive.length === 0) throw new Error(`Reconciliation run ${input.runId} was taken as dead before it recorded`);
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
          WHERE id = $1 AND finished_at IS NULL`,
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
    await this.tradeFlags.settlementFailing(manager, flagged);
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
