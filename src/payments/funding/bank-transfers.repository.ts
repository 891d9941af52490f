import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../../common/database/query';

export type IncomingDisposition = 'funded' | 'overpaid' | 'underpaid' | 'late' | 'unknown_reference';

export interface IncomingRecord {
  transferId: string;
  tradeId: string | null;
  amountUsd: bigint;
  fundedUsd: bigint;
  suspenseUsd: bigint;
  disposition: IncomingDisposition;
  returnId: string | null;
  returnedAt: Date | null;
}

interface Row {
  transfer_id: string;
  trade_id: string | null;
  amount_usd: string;
  funded_usd: string;
  suspense_usd: string;
  disposition: IncomingDisposition;
  return_id: string | null;
  returned_at: Date | null;
}

const toRecord = (r: Row): IncomingRecord => ({
  transferId: r.transfer_id,
  tradeId: r.trade_id,
  amountUsd: BigInt(r.amount_usd),
  fundedUsd: BigInt(r.funded_usd),
  suspenseUsd: BigInt(r.suspense_usd),
  disposition: r.disposition,
  returnId: r.return_id,
  returnedAt: r.returned_at,
});

/** What became of every settled incoming bank transfer: decided once, by its id. */
@Injectable()
export class BankTransfersRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Which of these transfers the books have decided. */
  async known(transferIds: string[]): Promise<Set<string>> {
    if (transferIds.length === 0) return new Set();
    const rows: { transfer_id: string }[] = await this.dataSource.query(
      `SELECT transfer_id FROM bank_incoming_transfers WHERE transfer_id = ANY($1)`,
      [transferIds],
    );
    return new Set(rows.map((row) => row.transfer_id));
  }

  /** Up to where the bank's settled incoming transfers have been read; null before the first read. */
  async settledReadUntil(): Promise<Date | null> {
    const rows: { position: Date }[] = await this.dataSource.query(
      `SELECT position FROM provider_cursors WHERE name = 'bank_settled_incoming'`,
    );
    return rows[0]?.position ?? null;
  }

  /** Moves the read position forward (never back: two sweeps at once keep the furthest). */
  async markSettledReadUntil(position: Date): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO provider_cursors (name, position) VALUES ('bank_settled_incoming', $1)
       ON CONFLICT (name) DO UPDATE SET position = GREATEST(provider_cursors.position, EXCLUDED.position), updated_at = now()`,
      [position],
    );
  }

  async find(transferId: string, manager?: EntityManager): Promise<IncomingRecord | null> {
    const rows: Row[] = await (manager ?? this.dataSource.manager).query(`SELECT * FROM bank_incoming_transfers WHERE transfer_id = $1`, [
      transferId,
    ]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** Records the decision; false when this transfer was decided before (by a poll or another callback). */
  async decide(manager: EntityManager, record: Omit<IncomingRecord, 'returnId' | 'returnedAt'>): Promise<boolean> {
    const rows = await manager.query(
      `INSERT INTO bank_incoming_transfers (transfer_id, trade_id, amount_usd, funded_usd, suspense_usd, disposition)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (transfer_id) DO NOTHING RETURNING transfer_id`,
      [
        record.transferId,
        record.tradeId,
        record.amountUsd.toString(),
        record.fundedUsd.toString(),
        record.suspenseUsd.toString(),
        record.disposition,
      ],
    );
    return rows.length === 1;
  }

  async recordReturn(transferId: string, returnId: string): Promise<void> {
    await this.dataSource.query(`UPDATE bank_incoming_transfers SET return_id = coalesce(return_id, $2) WHERE transfer_id = $1`, [
      transferId,
      returnId,
    ]);
  }

  /** Marks the suspense part returned; true for the caller that marked it (so the ledger books it once). */
  async markReturned(manager: EntityManager, transferId: string): Promise<boolean> {
    const rows = await returningRows(
      manager,
      `UPDATE bank_incoming_transfers SET returned_at = now() WHERE transfer_id = $1 AND returned_at IS NULL AND suspense_usd > 0 RETURNING transfer_id`,
      [transferId],
    );
    return rows.length === 1;
  }

  async markBounced(manager: EntityManager, transferId: string): Promise<boolean> {
    const rows = await returningRows(
      manager,
      `UPDATE bank_incoming_transfers SET bounced_at = now() WHERE transfer_id = $1 AND returned_at IS NOT NULL AND bounced_at IS NULL RETURNING transfer_id`,
      [transferId],
    );
    return rows.length === 1;
  }

  async markReturnFailed(transferId: string): Promise<boolean> {
    const rows = await returningRows(
      this.dataSource.manager,
      `UPDATE bank_incoming_transfers SET return_failed_at = now() WHERE transfer_id = $1 AND return_failed_at IS NULL RETURNING transfer_id`,
      [transferId],
    );
    return rows.length === 1;
  }

  /** Suspense the bank could not give back (refused or bounced), for the operators' gauge. */
  async countStuck(): Promise<number> {
    const rows = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM bank_incoming_transfers WHERE bounced_at IS NOT NULL OR return_failed_at IS NOT NULL`,
    );
    return rows[0].n;
  }

  /** Suspense still owed back, oldest first: for the sweeper when a return job was lost. */
  async unreturned(olderThan: Date, limit: number): Promise<string[]> {
    const rows: { transfer_id: string }[] = await this.dataSource.query(
      `SELECT transfer_id FROM bank_incoming_transfers WHERE suspense_usd > 0 AND returned_at IS NULL AND created_at < $1 ORDER BY created_at LIMIT $2`,
      [olderThan, limit],
    );
    return rows.map((r) => r.transfer_id);
  }
}
