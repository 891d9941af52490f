import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { NearingCursor } from '../queues/sweep-horizon';

/** A deadline not yet due that falls within the horizon, and how long until it by PostgreSQL's clock. */
export interface NearingDeadline {
  tradeId: string;
  dueInMs: number;
  /** Where the next page starts: this deadline, exactly as stored, and its trade. */
  next: NearingCursor;
}

const NEARING: Record<'funding' | 'payout', { column: string; state: string }> = {
  funding: { column: 'funding_by', state: 'awaiting_funding' },
  payout: { column: 'payout_by', state: 'funded' },
};

/** The deadlines the sweeper queues jobs for before they fall due (`queues/sweep-horizon.ts`). */
@Injectable()
export class NearingDeadlinesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * A page, soonest first after `after`, of the trades whose deadline is still ahead but within `horizonMs`: a run that
   * stops at its bound leaves the furthest, which the next run reaches before they fall due. A range on the partial
   * indexes of live deadlines (`trades_funding_due_idx`, `trades_payout_due_idx`), so it reads only the trades near
   * their deadline. The horizon is a double precision interval: any length fits.
   */
  async page(deadline: 'funding' | 'payout', horizonMs: number, after: NearingCursor, limit: number): Promise<NearingDeadline[]> {
    const { column, state } = NEARING[deadline];
    const rows: { id: string; due_in_ms: string; due: string }[] = await this.dataSource.query(
      `SELECT id, greatest(0, ceil(extract(epoch FROM ${column} - clock_timestamp()) * 1000))::bigint AS due_in_ms,
              ${column}::text AS due
         FROM trades
        WHERE state = '${state}' AND ${column} > now() AND ${column} <= now() + $1::double precision * interval '1 millisecond'
          AND (${column}, id) > ($2::timestamptz, $3::uuid)
        ORDER BY ${column}, id LIMIT $4`,
      [horizonMs, after.due, after.id, limit],
    );
    return rows.map((row) => ({ tradeId: row.id, dueInMs: Number(row.due_in_ms), next: { due: row.due, id: row.id } }));
  }
}
