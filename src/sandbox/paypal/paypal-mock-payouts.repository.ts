import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { preparedRead, returningRow, SqlParams } from '../../common/database/query';
import type { NewOutboxRow } from '../../outbox/outbox.repository';
import { changeMadeSql, outboxCtes, runChange } from '../sandbox-statement';
import { keptSql, TransmissionRow, transmissionsCte } from './paypal-mock.repository';
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

  /**
   * A new PENDING batch (`batch`, made whole by the caller) with its PENDING items and its outbox rows (the settlement),
   * in one statement sent in autocommit. With `replay`, the PayPal-Request-Id's answer is kept by the same statement,
   * and the batch made only if the id had no answer yet (an identical call under way: the insert waits for its
   * commit). Answers the outbox rows' ids; undefined, and nothing written, when the sender_batch_id was used before or
   * the id had its answer.
   */
  async insertBatch(
    batch: BatchRow,
    items: { senderItemId: string | null; receiver: string; cents: bigint; note: string | null }[],
    jobs: NewOutboxRow[],
    replay?: { requestId: string; endpoint: string; status: number; body?: unknown },
  ): Promise<string[] | undefined> {
    const params = new SqlParams();
    const kept = replay ? `${keptSql(replay, params)},` : '';
    const outbox = outboxCtes(jobs, params);
    const sql = `WITH ${kept}
       batch AS (
         INSERT INTO paypal_mock_payout_batches (id, sender_batch_id, status, sender_batch_header, create_time)
         SELECT ${params.add(batch.id)}, ${params.add(batch.sender_batch_id)}, 'PENDING', ${params.add(JSON.stringify(batch.sender_batch_header))},
                ${params.add(batch.create_time)}${replay ? ' WHERE EXISTS (SELECT 1 FROM kept)' : ''}
         ON CONFLICT (sender_batch_id) DO NOTHING RETURNING id),
       items AS (
         INSERT INTO paypal_mock_payout_items (id, batch_id, sender_item_id, receiver, amount_cents, currency, note, status)
         SELECT item.id, batch.id, item.sender_item_id, item.receiver, item.amount_cents, 'USD', item.note, 'PENDING'
           FROM batch, unnest(${params.add(items.map(() => paypalId()))}::text[], ${params.add(items.map((item) => item.senderItemId))}::text[],
                              ${params.add(items.map((item) => item.receiver))}::text[],
                              ${params.add(items.map((item) => item.cents.toString()))}::bigint[], ${params.add(items.map((item) => item.note))}::text[])
                AS item (id, sender_item_id, receiver, amount_cents, note))${outbox.ctes}
       SELECT ${changeMadeSql('SELECT count(*) FROM batch')} AS made, ${outbox.columns}`;
    return runChange(this.dataSource, sql, params);
  }

  async batchIdOfSender(senderBatchId: string): Promise<string | undefined> {
    const rows: { id: string }[] = await this.dataSource.query(`SELECT id FROM paypal_mock_payout_batches WHERE sender_batch_id = $1`, [
      senderBatchId,
    ]);
    return rows[0]?.id;
  }

  /**
   * Settles a batch as the caller decided it from its PENDING items (`settled`: the batch SUCCESS, each item with its
   * status, fee, transaction id and time), with the outbox rows of the settlement (its webhooks, the returns of
   * unclaimed items), in one statement sent in autocommit. Answers the rows' ids; undefined, and nothing written, when
   * any of those items was no longer PENDING (settled meanwhile).
   */
  async settleBatch(
    settled: { batch: BatchRow; items: ItemRow[] },
    jobs: NewOutboxRow[],
    transmissions: TransmissionRow[],
  ): Promise<string[] | undefined> {
    const params = new SqlParams();
    const { batch, items } = settled;
    const batchId = params.add(batch.id);
    const at = params.add(batch.completed_time);
    const outbox = outboxCtes(jobs, params);
    const stored = transmissionsCte(transmissions, params);
    const sql = `WITH items AS (
         UPDATE paypal_mock_payout_items AS item
            SET status = settled.status, fee_cents = settled.fee_cents, transaction_id = settled.transaction_id, time_processed = ${at}
           FROM unnest(${params.add(items.map((item) => item.id))}::text[], ${params.add(items.map((item) => item.status))}::text[],
                       ${params.add(items.map((item) => item.fee_cents))}::bigint[], ${params.add(items.map((item) => item.transaction_id))}::text[])
                AS settled (id, status, fee_cents, transaction_id)
          WHERE item.id = settled.id AND item.batch_id = ${batchId} AND item.status = 'PENDING' RETURNING 1),
       batch AS (
         UPDATE paypal_mock_payout_batches SET status = 'SUCCESS', completed_time = ${at}
          WHERE id = ${batchId} AND (SELECT count(*) FROM items) = ${params.add(items.length)} RETURNING 1)${outbox.ctes}${stored}
       SELECT ${changeMadeSql('SELECT count(*) FROM batch')} AS made, ${outbox.columns}`;
    return runChange(this.dataSource, sql, params);
  }

  /** UNCLAIMED → RETURNED; undefined when the item was not UNCLAIMED. */
  async returnItem(manager: EntityManager, itemId: string): Promise<ItemRow | undefined> {
    return returningRow<ItemRow>(
      manager,
      `UPDATE paypal_mock_payout_items SET status = 'RETURNED' WHERE id = $1 AND status = 'UNCLAIMED' RETURNING *`,
      [itemId],
    );
  }

  /** A batch and its items, by id, in one round trip; undefined when there is no such batch. */
  async findBatch(id: string): Promise<{ batch: BatchRow; items: ItemRow[] } | undefined> {
    // A named prepared statement: the service reads a batch until it has settled.
    const rows = await preparedRead<Nullable<ItemRow> & BatchColumns>(
      this.dataSource,
      `SELECT ${ITEM_COLUMNS}, ${BATCH_COLUMNS}
         FROM paypal_mock_payout_batches batch LEFT JOIN paypal_mock_payout_items items ON items.batch_id = batch.id
        WHERE batch.id = $1 ORDER BY items.id`,
      [id],
    );
    if (rows.length === 0) return undefined;
    return { batch: batchOf(rows[0]), items: rows.filter((row) => row.id !== null).map((row) => itemOf(row as ItemRow & BatchColumns)) };
  }

  async findItem(id: string): Promise<ItemRow | undefined> {
    const rows: ItemRow[] = await this.dataSource.query(`SELECT * FROM paypal_mock_payout_items WHERE id = $1`, [id]);
    return rows[0];
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

const ITEM_COLUMNS = `items.id, items.batch_id, items.sender_item_id, items.receiver, items.amount_cents, items.currency, items.note,
  items.status, items.fee_cents, items.transaction_id, items.time_processed`;

/** The batch's columns beside its items', prefixed `batch_`. */
const BATCH_COLUMNS = `batch.id AS batch_row_id, batch.sender_batch_id AS batch_sender_batch_id, batch.status AS batch_status,
  batch.sender_batch_header AS batch_sender_batch_header, batch.create_time AS batch_create_time,
  batch.completed_time AS batch_completed_time`;

interface BatchColumns {
  batch_row_id: string;
  batch_sender_batch_id: string;
  batch_status: string;
  batch_sender_batch_header: Record<string, unknown>;
  batch_create_time: Date;
  batch_completed_time: Date | null;
}

type Nullable<T> = { [K in keyof T]: T[K] | null };

function batchOf(row: BatchColumns): BatchRow {
  return {
    id: row.batch_row_id,
    sender_batch_id: row.batch_sender_batch_id,
    status: row.batch_status,
    sender_batch_header: row.batch_sender_batch_header,
    create_time: row.batch_create_time,
    completed_time: row.batch_completed_time,
  };
}

function itemOf(row: ItemRow & BatchColumns): ItemRow {
  return {
    id: row.id,
    batch_id: row.batch_id,
    sender_item_id: row.sender_item_id,
    receiver: row.receiver,
    amount_cents: row.amount_cents,
    currency: row.currency,
    note: row.note,
    status: row.status,
    fee_cents: row.fee_cents,
    transaction_id: row.transaction_id,
    time_processed: row.time_processed,
  };
}
