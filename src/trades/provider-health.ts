import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { returningRows } from '../common/database/query';
import { OutboxService } from '../outbox/outbox.service';
import { JOBS, QUEUES } from '../queues/queue-names';
import { TradesRepository } from './trades.repository';

export type HealthProvider = 'paypal' | 'bank' | 'wechat';

// Failures in a row before a provider counts as down: one timeout is noise, two is an outage.
const DOWN_AFTER_FAILURES = 2;

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
 * the provider had been failing, so the healthy path costs one primary-key read.
 */
@Injectable()
export class ProviderHealth {
  private readonly logger = new Logger(ProviderHealth.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly trades: TradesRepository,
    private readonly outbox: OutboxService,
  ) {}

  async failed(provider: HealthProvider): Promise<void> {
    await this.dataSource.query(
      `UPDATE provider_health SET consecutive_failures = consecutive_failures + 1, updated_at = now(),
              down_since = CASE WHEN consecutive_failures + 1 >= $2 THEN coalesce(down_since, now()) ELSE down_since END
        WHERE provider = $1`,
      [provider, DOWN_AFTER_FAILURES],
    );
  }

  /** A call went through. If the provider had been down, its outage ends here and its deadlines are extended. */
  async succeeded(provider: HealthProvider): Promise<void> {
    // The healthy path only reads: no write, and no row lock every provider call would queue on.
    const state = await this.dataSource.query(
      `SELECT 1 FROM provider_health WHERE provider = $1 AND (consecutive_failures > 0 OR down_since IS NOT NULL)`,
      [provider],
    );
    if (state.length === 0) return;
    const rows = await returningRows<{ down_since: Date | null; now: Date }>(
      this.dataSource.manager,
      `UPDATE provider_health p SET consecutive_failures = 0, down_since = NULL, updated_at = now()
         FROM (SELECT down_since FROM provider_health WHERE provider = $1 FOR UPDATE) before
        WHERE p.provider = $1 AND (p.consecutive_failures > 0 OR p.down_since IS NOT NULL)
        RETURNING before.down_since, now() AS now`,
      [provider],
    );
    const outage = rows[0]?.down_since ? { from: rows[0].down_since, to: rows[0].now } : null;
    if (outage) await this.extendDeadlines(provider, outage.from, outage.to);
  }

  async isDown(provider: HealthProvider): Promise<boolean> {
    const rows = await this.dataSource.query(`SELECT down_since IS NOT NULL AS down FROM provider_health WHERE provider = $1`, [provider]);
    return rows[0]?.down === true;
  }

  /** Pushes back, by the outage, each live deadline that depended on the provider and had not run out when it began. */
  private async extendDeadlines(provider: HealthProvider, from: Date, to: Date): Promise<void> {
    const byMs = to.getTime() - from.getTime();
    let extended = 0;
    for (const { deadline, column, where } of DEPENDENT_DEADLINES[provider]) {
      const ids: { id: string }[] = await this.dataSource.query(`SELECT id FROM trades WHERE ${where} AND ${column} > $1 LIMIT 10000`, [
        from,
      ]);
      for (const { id } of ids) {
        await this.dataSource.transaction(async (manager) => {
          const moved = await returningRows<{ until: Date }>(
            manager,
            `UPDATE trades SET ${column} = ${column} + make_interval(secs => $2::double precision / 1000), updated_at = now()
              WHERE id = $1 AND ${where} AND ${column} > $3 RETURNING ${column} AS until`,
            [id, byMs, from],
          );
          if (!moved[0]) return;
          await this.trades.insertEvent(manager, id, {
            actor: { kind: 'system', id: null },
            type: 'deadline_extended',
            fromState: null,
            toState: null,
            detail: { deadline, provider, byMs, until: moved[0].until.toISOString(), outageFrom: from.toISOString() },
          });
          // Payout and funding deadlines run as delayed jobs: one more for the new time (the old one finds nothing due).
          if (deadline !== 'verify') {
            await this.outbox.write(manager, {
              queue: QUEUES.deadlines,
              jobName: deadline === 'funding' ? JOBS.deadlines.fundingDeadline : JOBS.deadlines.payoutDeadline,
              jobId: `deadline-${id}-${deadline}-extended-${to.getTime()}`,
              payload: { tradeId: id },
              delayMs: Math.max(0, moved[0].until.getTime() - Date.now()),
            });
          }
          extended += 1;
        });
      }
    }
    this.logger.warn({ provider, outageMs: byMs, extended }, 'Provider recovered: the deadlines that waited on it were extended');
  }
}
