import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../common/database/query';
import type { HealthProvider } from '../provider-health/provider-health.service';

export type ExtendedDeadline = 'funding' | 'payout' | 'verify';

/** Which deadline of a live trade waits on which provider. */
const DEPENDENT_DEADLINES: Record<HealthProvider, { deadline: ExtendedDeadline; column: string; where: string }[]> = {
  paypal: [{ deadline: 'funding', column: 'funding_by', where: `state = 'awaiting_funding' AND payment_method = 'paypal'` }],
  bank: [{ deadline: 'funding', column: 'funding_by', where: `state = 'awaiting_funding' AND payment_method = 'bank_transfer'` }],
  wechat: [
    // The counterparty's window to send RMB, and our window to see it.
    { deadline: 'payout', column: 'payout_by', where: `state = 'funded'` },
    { deadline: 'verify', column: 'verify_by', where: `state = 'payout_sent'` },
  ],
};

/** The trades whose deadlines waited on a provider that was down, and the pushing back of those deadlines. */
@Injectable()
export class OutageExtensionRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The deadlines that wait on the provider. */
  deadlinesOf(provider: HealthProvider): ExtendedDeadline[] {
    return DEPENDENT_DEADLINES[provider].map((d) => d.deadline);
  }

  /** A page, in id order after `after`, of the live trades whose deadline had not run out when the outage began. */
  async running(provider: HealthProvider, deadline: ExtendedDeadline, outageFrom: Date, after: string, limit: number): Promise<string[]> {
    const { column, where } = this.dependent(provider, deadline);
    const ids: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM trades WHERE ${where} AND ${column} > $1 AND id > $2 ORDER BY id LIMIT $3`,
      [outageFrom, after, limit],
    );
    return ids.map((r) => r.id);
  }

  /** Whether the trade's deadline was already pushed back for this outage (a recovery taken over after a crash). */
  async alreadyExtended(manager: EntityManager, tradeId: string, deadline: ExtendedDeadline, outageFrom: string): Promise<boolean> {
    const done = await manager.query(
      `SELECT 1 FROM trade_events WHERE trade_id = $1 AND type = 'deadline_extended' AND detail->>'outageFrom' = $2 AND detail->>'deadline' = $3`,
      [tradeId, outageFrom, deadline],
    );
    return done.length > 0;
  }

  /**
   * Pushes the deadline back by `byMs` if the trade still waits on it and it had not run out at `outageFrom`.
   * Answers the new deadline and how far it is from now(), the start of this transaction, which the job's
   * outbox row counts from too.
   */
  async extend(
    manager: EntityManager,
    tradeId: string,
    provider: HealthProvider,
    deadline: ExtendedDeadline,
    byMs: number,
    outageFrom: Date,
  ): Promise<{ until: Date; dueInMs: number } | undefined> {
    const { column, where } = this.dependent(provider, deadline);
    const moved = await returningRows<{ until: Date; due_in_ms: string }>(
      manager,
      `UPDATE trades SET ${column} = ${column} + make_interval(secs => $2::double precision / 1000), updated_at = now()
        WHERE id = $1 AND ${where} AND ${column} > $3
        RETURNING ${column} AS until, greatest(0, ceil(extract(epoch FROM ${column} - now()) * 1000))::bigint AS due_in_ms`,
      [tradeId, byMs, outageFrom],
    );
    return moved[0] ? { until: moved[0].until, dueInMs: Number(moved[0].due_in_ms) } : undefined;
  }

  private dependent(provider: HealthProvider, deadline: ExtendedDeadline): { column: string; where: string } {
    const found = DEPENDENT_DEADLINES[provider].find((d) => d.deadline === deadline);
    if (!found) throw new Error(`No ${deadline} deadline waits on ${provider}`);
    return found;
  }
}
