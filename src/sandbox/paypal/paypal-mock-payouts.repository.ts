import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRow, returningRows } from '../../common/database/query';
import { paypalId } from './paypal-mock.rows';

export interface BatchRow {
  id: string;
  sender_batch_id: string;
  status: string;
  sender_batch_header: Record<string, unknown>;
  create_time: Date;
  completed_time: Date | null;
}

export interface ItemRow {
  id: string;
  batch_id: string;
  sender_item_id: string | null;
  receiver: string;
  amount_cents: string;
  currency: string;
  note: string | null;
  status: string;
  fee_cents: string;
  transaction_id: string | null;
  time_processed: Date | null;
}

/** An item as Transaction Search lists it, with its batch's creation time. */
export interface SearchedItemRow {
  id: string;
  batch_id: string;
  status: string;
  amount_cents: string;
  fee_cents: string;
  transaction_id: string | null;
  create_time: Date;
  time_processed: Date | null;
}

/** The PayPal mock's Payouts v1 tables: batches and their items. */
@Injectable()
export class PaypalMockPayoutsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** A new PENDING batch, or undefined when its sender_batch_id was used before. */
  async insertBatch(manager: EntityManager, senderBatchId: string, header: unknown): Promise<BatchRow | undefined> {
    const rows: BatchRow[] = await manager.query(
      `INSERT INTO paypal_mock_payout_batches (id, sender_batch_id, status, sender_batch_header) VALUES ($1, $2, 'PENDING', $3)
       ON CONFLICT (sender_batch_id) DO NOTHING RETURNING *`,
      [paypalId(), senderBatchId, JSON.stringify(header)],
    );
    return rows[0];
  }

  async batchIdOfSender(manager: EntityManager, senderBatchId: string): Promise<string | undefined> {
    const rows: { id: string }[] = await manager.query(`SELECT id FROM paypal_mock_payout_batches WHERE sender_batch_id = $1`, [
      senderBatchId,
    ]);
    return rows[0]?.id;
  }

  async insertItem(
    manager: EntityManager,
    batchId: string,
    item: { senderItemId: string | null; receiver: string; cents: bigint; note: string | null },
  ): Promise<void> {
    await manager.query(
      `INSERT INTO paypal_mock_payout_items (id, batch_id, sender_item_id, receiver, amount_cents, currency, note, status) VALUES ($1, $2, $3, $4, $5, 'USD', $6, 'PENDING')`,
      [paypalId(), batchId, item.senderItemId, item.receiver, item.cents.toString(), item.note],
    );
  }

  /** The batch's PENDING items processed: UNCLAIMED for the given receivers (lower case), SUCCESS otherwise. */
  processItems(manager: EntityManager, batchId: string, unclaimedReceivers: string[]): Promise<ItemRow[]> {
    return returningRows<ItemRow>(
      manager,
      `UPDATE paypal_mock_payout_items
          SET status = CASE WHEN lower(receiver) = ANY($2::text[]) THEN 'UNCLAIMED' ELSE 'SUCCESS' END,
              transaction_id = upper(substr(md5(random()::text), 1, 17)), time_processed = now()
        WHERE batch_id = $1 AND status = 'PENDING' RETURNING *`,
      [batchId, unclaimedReceivers],
    );
  }

  async setItemFee(manager: EntityManager, itemId: string, feeCents: bigint): Promise<void> {
    await manager.query(`UPDATE paypal_mock_payout_items SET fee_cents = $2 WHERE id = $1`, [itemId, feeCents.toString()]);
  }

  async completeBatch(manager: EntityManager, batchId: string): Promise<BatchRow> {
    return returningRow<BatchRow>(
      manager,
      `UPDATE paypal_mock_payout_batches SET status = 'SUCCESS', completed_time = now() WHERE id = $1 RETURNING *`,
      [batchId],
    );
  }

  /** UNCLAIMED → RETURNED; undefined when the item was not UNCLAIMED. */
  async returnItem(manager: EntityManager, itemId: string): Promise<ItemRow | undefined> {
    return returningRow<ItemRow>(
      manager,
      `UPDATE paypal_mock_payout_items SET status = 'RETURNED' WHERE id = $1 AND status = 'UNCLAIMED' RETURNING *`,
      [itemId],
    );
  }

  async findBatch(id: string): Promise<BatchRow | undefined> {
    const rows: BatchRow[] = await this.dataSource.query(`SELECT * FROM paypal_mock_payout_batches WHERE id = $1`, [id]);
    return rows[0];
  }

  async findItem(id: string): Promise<ItemRow | undefined> {
    const rows: ItemRow[] = await this.dataSource.query(`SELECT * FROM paypal_mock_payout_items WHERE id = $1`, [id]);
    return rows[0];
  }

  itemsOfBatch(batchId: string, manager: EntityManager = this.dataSource.manager): Promise<ItemRow[]> {
    return manager.query(`SELECT * FROM paypal_mock_payout_items WHERE batch_id = $1 ORDER BY id`, [batchId]);
  }

  /** Transaction Search over the payouts: the items of batches created in `[start, end]`, one page, and how many in all. */
  async searchItems(start: Date, end: Date, limit: number, offset: number): Promise<{ total: number; rows: SearchedItemRow[] }> {
    const total: { n: number }[] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM paypal_mock_payout_items i JOIN paypal_mock_payout_batches b ON b.id = i.batch_id
        WHERE b.create_time BETWEEN $1 AND $2`,
      [start, end],
    );
    const rows: SearchedItemRow[] = await this.dataSource.query(
      `SELECT i.id, i.batch_id, i.status, i.amount_cents, i.fee_cents, i.transaction_id, b.create_time, i.time_processed
         FROM paypal_mock_payout_items i JOIN paypal_mock_payout_batches b ON b.id = i.batch_id
        WHERE b.create_time BETWEEN $1 AND $2 ORDER BY b.create_time, i.id LIMIT $3 OFFSET $4`,
      [start, end, limit, offset],
    );
    return { total: total[0].n, rows };
  }
}
