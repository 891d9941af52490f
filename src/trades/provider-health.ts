import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { returningRows } from '../common/database/query';
import { OutboxService } from '../outbox/outbox.service';
import { JOBS, QUEUES } from '../queues/queue-names';
import { TradeTimeline } from './trade-timeline';

export type HealthProvider = 'paypal' | 'bank' | 'wechat';

// Failures in a row before a provider counts as down: one timeout is noise, two is an outage.
const DOWN_AFTER_FAILURES = 2;

// How long a process trusts having read "healthy" while its own calls keep succeeding. A failure recorded
// meanwhile by another process is noticed this much later, which only lengthens that outage's extension.
const HEALTHY_TRUSTED_MS = 1000;

/** Which deadline of a live trade waits on which provider. */
const DEPENDENT_DEADLINES: Record<HealthProvider, { deadline: 'funding' | 'payout' | 'verify'; column: string; where: string }[]> = {
  paypal: [{ deadline: 'funding', column: 'funding_by', where: `state = 'awaiting_funding' AND payment_method = 'paypal'` }],
  bank: [{ deadline: 'funding', column: 'funding_by', where: `state = 'awaiting_funding' AND payment_method = 'bank_transfer'` }],
  wechat: [
    // The counterparty's window to send RMB, and our window to see it.
    { deadline: 'payout', column: 'payout_by', where: `state = 'funded'` },
    { deadline: 'verify', column: 'verify_by', where: `state = 'payout_sent'` },
  ],
};

/**
 * Deadlines never punish a party for the platform's fault (SPEC.md). The provider adapters report each call's
 * outcome here; a provider failing twice in a row is down from its first failure. While it is down, the
 * deadlines that wait on it do not run out (`isDown`); when a call succeeds again, every such deadline that
 * was still running when the outage began is pushed back by the outage's length, each trade's timeline says
 * so (`deadline_extended`), and the deadline's job is queued for its new time. Successes write nothing unless
 * the provider had been failing, so the healthy path costs one primary-key read a second per process.
 */
@Injectable()
export class ProviderHealth {
  private readonly logger = new Logger(ProviderHealth.name);
  private readonly healthyUntil = new Map<HealthProvider, number>();
  /** Failures this process has seen per provider: a "healthy" read that a failure overtook is not trusted. */
  private readonly failuresSeen = new Map<HealthProvider, number>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly timeline: TradeTimeline,
    private readonly outbox: OutboxService,
  ) {}

  /** Never throws: bookkeeping must not turn a provider call that went through into a failure. */
  async failed(provider: HealthProvider): Promise<void> {
    this.healthyUntil.delete(provider);
    this.failuresSeen.set(provider, (this.failuresSeen.get(provider) ?? 0) + 1);
    await this.quietly(provider, () =>
      this.dataSource.query(
        `UPDATE provider_health SET consecutive_failures = consecutive_failures + 1, updated_at = now(),
                failing_since = coalesce(failing_since, now()),
                down_since = CASE WHEN consecutive_failures + 1 >= $2 THEN coalesce(down_since, failing_since, now()) ELSE down_since END
          WHERE provider = $1`,
        [provider, DOWN_AFTER_FAILURES],
      ),
    );
  }

  /**
   * A call went through. If the provider had been down, one caller claims the recovery, extends the deadlines
   * (each trade once per outage, so a retry after a crash extends nothing twice), and only then marks the
   * provider up: until that moment it still counts as down, so no deadline that waited on it runs out meanwhile.
   */
  async succeeded(provider: HealthProvider): Promise<void> {
    // Healthy a moment ago, and no failure seen here since: nothing to record, and no round trip to learn it.
    if ((this.healthyUntil.get(provider) ?? 0) > Date.now()) return;
    const failuresBefore = this.failuresSeen.get(provider) ?? 0;
    await this.quietly(provider, async () => {
      // The healthy path only reads: no write, and no row lock every provider call would queue on.
      const state: { failing: boolean; down_since: Date | null; recovering_at: Date | null }[] = await this.dataSource.query(
        `SELECT consecutive_failures > 0 AS failing, down_since, recovering_at FROM provider_health WHERE provider = $1`,
        [provider],
      );
      if (!state[0] || (!state[0].failing && !state[0].down_since)) {
        // Unless a failure came in while this read was on its way: then the read may be out of date already.
        if ((this.failuresSeen.get(provider) ?? 0) === failuresBefore) this.healthyUntil.set(provider, Date.now() + HEALTHY_TRUSTED_MS);
        return;
      }
      if (!state[0].down_since) {
        await this.dataSource.query(
          `UPDATE provider_health SET consecutive_failures = 0, failing_since = NULL, updated_at = now() WHERE provider = $1 AND down_since IS NULL`,
          [provider],
        );
        return;
      }
      // One recovery at a time; a claim older than five minutes was left by a process that died, and is taken over.
      const claimed = await returningRows<{ down_since: Date; now: Date }>(
        this.dataSource.manager,
        `UPDATE provider_health SET recovering_at = now(), updated_at = now()
          WHERE provider = $1 AND down_since IS NOT NULL AND (recovering_at IS NULL OR recovering_at < now() - interval '5 minutes')
          RETURNING down_since, now() AS now`,
        [provider],
      );
      if (!claimed[0]) return;
      await this.extendDeadlines(provider, claimed[0].down_since, claimed[0].now);
      await this.dataSource.query(
        `UPDATE provider_health SET consecutive_failures = 0, failing_since = NULL, down_since = NULL, recovering_at = NULL, updated_at = now()
          WHERE provider = $1`,
        [provider],
      );
    });
  }

  private async quietly(provider: HealthProvider, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.logger.error({ provider, error: (error as Error).message }, 'Provider health could not be recorded');
    }
  }

  /** Down, or its recovery is still extending deadlines. */
  async isDown(provider: HealthProvider): Promise<boolean> {
    const rows = await this.dataSource.query(`SELECT down_since IS NOT NULL AS down FROM provider_health WHERE provider = $1`, [provider]);
    return rows[0]?.down === true;
  }

  /** Pushes back, by the outage, each live deadline that depended on the provider and had not run out when it began. */
  private async extendDeadlines(provider: HealthProvider, from: Date, to: Date): Promise<void> {
    const byMs = to.getTime() - from.getTime();
    const outageFrom = from.toISOString();
    let extended = 0;
    for (const { deadline, column, where } of DEPENDENT_DEADLINES[provider]) {
      for (let after = '00000000-0000-0000-0000-000000000000'; ;) {
        const ids: { id: string }[] = await this.dataSource.query(
          `SELECT id FROM trades WHERE ${where} AND ${column} > $1 AND id > $2 ORDER BY id LIMIT 500`,
          [from, after],
        );
        if (ids.length === 0) break;
        after = ids[ids.length - 1].id;
        for (const { id } of ids) {
          if (await this.extendOne(id, provider, deadline, column, where, { from, to, byMs, outageFrom })) extended += 1;
        }
      }
    }
    this.logger.warn({ provider, outageMs: byMs, extended }, 'Provider recovered: the deadlines that waited on it were extended');
  }

  /** One trade's deadline, in one transaction with its timeline event and its job; once per trade and outage. */
  private async extendOne(
    id: string,
    provider: HealthProvider,
    deadline: 'funding' | 'payout' | 'verify',
    column: string,
    where: string,
    outage: { from: Date; to: Date; byMs: number; outageFrom: string },
  ): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      // A recovery taken over after a crash finds the trades already done.
      const done = await manager.query(
        `SELECT 1 FROM trade_events WHERE trade_id = $1 AND type = 'deadline_extended' AND detail->>'outageFrom' = $2 AND detail->>'deadline' = $3`,
        [id, outage.outageFrom, deadline],
      );
      if (done.length > 0) return false;
      // How far the new deadline is from now(), the start of this transaction, which the job's outbox row counts from too.
      const moved = await returningRows<{ until: Date; due_in_ms: string }>(
        manager,
        `UPDATE trades SET ${column} = ${column} + make_interval(secs => $2::double precision / 1000), updated_at = now()
          WHERE id = $1 AND ${where} AND ${column} > $3
          RETURNING ${column} AS until, greatest(0, ceil(extract(epoch FROM ${column} - now()) * 1000))::bigint AS due_in_ms`,
        [id, outage.byMs, outage.from],
      );
      if (!moved[0]) return false;
      await this.timeline.deadlineExtended(manager, id, {
        deadline,
        provider,
        byMs: outage.byMs,
        until: moved[0].until.toISOString(),
        outageFrom: outage.outageFrom,
      });
      // Payout and funding deadlines run as delayed jobs: one more for the new time (the old one finds nothing due).
      if (deadline !== 'verify') {
        await this.outbox.write(manager, {
          queue: QUEUES.deadlines,
          jobName: deadline === 'funding' ? JOBS.deadlines.fundingDeadline : JOBS.deadlines.payoutDeadline,
          jobId: `deadline-${id}-${deadline}-extended-${outage.to.getTime()}`,
          payload: { tradeId: id },
          delayMs: Number(moved[0].due_in_ms),
        });
      }
      return true;
    });
  }
}
