import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../../common/database/query';
import type { NearingCursor } from '../../queues/sweep-horizon';
import type { NearingDeadline } from '../../trades/nearing-deadlines.repository';

/**
 * One page of the work of one kind that waits on a provider job: rows older than `before` (work just
 * committed may still be on its way from the outbox), after the key `after`, in key order.
 */
export type WorkPage<Row extends { key: string }> = (before: Date, after: string, limit: number) => Promise<Row[]>;

/** What the provider-work sweep reads: every item of work waiting on a provider, visible in PostgreSQL. */
@Injectable()
export class ProviderWorkRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Trades settling, and flagged ended trades whose money came back. */
  readonly settling: WorkPage<{ key: string; state: string }> = (before, after, limit) =>
    this.dataSource.query(
      `SELECT id AS key, state FROM trades
        WHERE (state IN ('releasing', 'refunding', 'splitting')
               OR (settlement_failing AND state IN ('completed', 'refunded', 'settled_split')))
          AND updated_at < $1 AND id::text > $2 ORDER BY id LIMIT $3`,
      [before, after, limit],
    );

  /** Trades awaiting funding with a funding begun. */
  readonly awaitingFunding: WorkPage<{ key: string; funding_by: Date | null }> = (before, after, limit) =>
    this.dataSource.query(
      `SELECT t.id AS key, t.funding_by FROM trades t JOIN trade_fundings f ON f.trade_id = t.id
        WHERE t.state = 'awaiting_funding' AND f.created_at < $1 AND t.id::text > $2 ORDER BY t.id LIMIT $3`,
      [before, after, limit],
    );

  /** Funding checks a webhook queued that have not started: one lost in Redis would leave the trade's later webhooks waiting on it. */
  readonly pendingChecks: WorkPage<{ key: string; job_id: string }> = (before, after, limit) =>
    this.dataSource.query(
      `SELECT trade_id::text AS key, check_pending_job AS job_id FROM trade_fundings
        WHERE check_pending_job IS NOT NULL AND check_pending_since < $1 AND trade_id::text > $2 ORDER BY trade_id LIMIT $3`,
      [before, after, limit],
    );

  /** Outcomes watched after the end: an unclaimed payout, a settled bank return. */
  readonly watchedOutcomes: WorkPage<{ key: string; trade_id: string; step: 'watch_payout' | 'watch_bank_return'; attempt: number }> = (
    before,
    after,
    limit,
  ) =>
    this.dataSource.query(
      `SELECT trade_id::text || '-' || step || '-' || attempt AS key, trade_id, step, attempt FROM settlement_steps
        WHERE step IN ('watch_payout', 'watch_bank_return') AND status <> 'done' AND updated_at < $1
          AND trade_id::text || '-' || step || '-' || attempt > $2
        ORDER BY key LIMIT $3`,
      [before, after, limit],
    );

  /** Reported WeChat transfers waiting to be verified. */
  readonly reportedPayouts: WorkPage<{ key: string }> = (before, after, limit) =>
    this.dataSource.query(
      `SELECT id AS key FROM trades WHERE state = 'payout_sent' AND updated_at < $1 AND id::text > $2 ORDER BY id LIMIT $3`,
      [before, after, limit],
    );

  /**
   * Held PayPal authorizations not captured yet whose capture is due: a disputed trade's at once, the honour period's
   * once `captureAfterMs` from funding has passed (before that, the sweep queues it as it nears: `nearingHonorCaptures`).
   */
  heldAuthorizationsDue(captureAfterMs: number): WorkPage<{ key: string; state: string }> {
    return (before, after, limit) =>
      this.dataSource.query(
        `SELECT t.id AS key, t.state FROM trades t JOIN trade_fundings f ON f.trade_id = t.id
          WHERE t.state IN ('funded', 'payout_sent', 'disputed') AND f.authorization_id IS NOT NULL AND f.capture_id IS NULL
            AND t.funded_at < $1 AND t.id::text > $2
            AND (t.state = 'disputed' OR t.funded_at + $4::double precision * interval '1 millisecond' <= now())
          ORDER BY t.id LIMIT $3`,
        [before, after, limit, captureAfterMs],
      );
  }

  /**
   * A page, soonest first after `after`, of the held authorizations of trades still waiting on their payout whose
   * honour-period capture (`captureAfterMs` after funding) is still ahead but within `horizonMs`, with the time left
   * by PostgreSQL's clock. Both lengths are double precision intervals: any length fits.
   */
  async nearingHonorCaptures(captureAfterMs: number, horizonMs: number, after: NearingCursor, limit: number): Promise<NearingDeadline[]> {
    const rows: { id: string; due_in_ms: string; funded: string }[] = await this.dataSource.query(
      `SELECT t.id,
              greatest(0, ceil(extract(epoch FROM t.funded_at + $1::double precision * interval '1 millisecond' - clock_timestamp()) * 1000))::bigint AS due_in_ms,
              t.funded_at::text AS funded
         FROM trades t JOIN trade_fundings f ON f.trade_id = t.id
        WHERE t.state IN ('funded', 'payout_sent') AND f.authorization_id IS NOT NULL AND f.capture_id IS NULL
          AND t.funded_at + $1::double precision * interval '1 millisecond' > now()
          AND t.funded_at + $1::double precision * interval '1 millisecond' <= now() + $2::double precision * interval '1 millisecond'
          AND (t.funded_at, t.id) > ($3::timestamptz, $4::uuid)
        ORDER BY t.funded_at, t.id LIMIT $5`,
      [captureAfterMs, horizonMs, after.due, after.id, limit],
    );
    return rows.map((row) => ({ tradeId: row.id, dueInMs: Number(row.due_in_ms), next: { due: row.funded, id: row.id } }));
  }

  /** Bank suspense owed back, neither returned nor refused. */
  readonly suspenseOwed: WorkPage<{ key: string }> = (before, after, limit) =>
    this.dataSource.query(
      `SELECT transfer_id AS key FROM bank_incoming_transfers
        WHERE suspense_usd > 0 AND returned_at IS NULL AND return_failed_at IS NULL AND created_at < $1 AND transfer_id > $2
        ORDER BY transfer_id LIMIT $3`,
      [before, after, limit],
    );

  /** Flags up to `limit` trades with a settlement step (or a watch) unfinished past its bound; answers which. */
  async flagOverdueSteps(manager: EntityManager, limit: number): Promise<{ id: string }[]> {
    // An UPDATE … RETURNING through TypeORM answers [rows, count]: read as rows, or every sweep "flagged" 2.
    return returningRows<{ id: string }>(
      manager,
      // The trades' rows locked in id order first, as every statement that takes more than one does.
      `WITH overdue AS (
         SELECT t.id FROM trades t
          WHERE t.id IN (SELECT s.trade_id FROM settlement_steps s WHERE s.status <> 'done' AND s.flag_after <= now() LIMIT $1)
            AND NOT t.settlement_failing
          ORDER BY t.id FOR UPDATE OF t
       )
       UPDATE trades t SET settlement_failing = true, updated_at = now() FROM overdue WHERE t.id = overdue.id AND NOT t.settlement_failing
       RETURNING t.id`,
      [limit],
    );
  }
}
