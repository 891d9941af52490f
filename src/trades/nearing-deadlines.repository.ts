import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/** A deadline not yet due that falls within the horizon, and how long until it by PostgreSQL's clock. */
export interface NearingDeadline {
  tradeId: string;
  dueInMs: number;
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
   * A page, in id order after `after`, of the trades whose deadline is still ahead but within `horizonMs`. A range
   * on the partial indexes of live deadlines (`trades_funding_due_idx`, `trades_payout_due_idx`), so it reads only
   * the trades near their deadline. The horizon is a double precision interval: any length fits.
   */
  async page(deadline: 'funding' | 'payout', horizonMs: number, after: string, limit: number): Promise<NearingDeadline[]> {
    const { column, state } = NEARING[deadline];
    const rows: { id: string; due_in_ms: string }[] = await this.dataSource.query(
      `SELECT id, greatest(0, ceil(extract(epoch FROM ${column} - clock_timestamp()) * 1000))::bigint AS due_in_ms
         FROM trades
        WHERE state = '${state}' AND ${column} > now() AND ${column} <= now() + $1::double precision * interval '1 millisecond'
          AND id > $2::uuid
        ORDER BY id LIMIT $3`,
      [horizonMs, after, limit],
    );
    return rows.map((row) => ({ tradeId: row.id, dueInMs: Number(row.due_in_ms) }));
  }
}
