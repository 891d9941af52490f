import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../../common/database/query';
import { applyBps, formatAmount } from '../../common/money';
import { paypalConfig } from '../../config';
import { OutboxService } from '../../outbox/outbox.service';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { paypalPayoutReturnJobId, paypalPayoutSettleJobId } from '../../queues/job-ids';
import { PaypalMockError } from './paypal-mock.errors';
import { paypalId, positiveUsd } from './paypal-mock.rows';
import { PaypalMockWebhooks } from './paypal-mock.webhooks';

interface BatchRow {
  id: string;
  sender_batch_id: string;
  status: string;
  sender_batch_header: Record<string, unknown>;
  create_time: Date;
  completed_time: Date | null;
}

interface ItemRow {
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

const ITEM_EVENTS = {
  SUCCESS: 'PAYMENT.PAYOUTS-ITEM.SUCCEEDED',
  UNCLAIMED: 'PAYMENT.PAYOUTS-ITEM.UNCLAIMED',
  RETURNED: 'PAYMENT.PAYOUTS-ITEM.RETURNED',
} as const;

/**
 * Payouts v1 as PayPal's legacy clients call them: batches deduplicated by `sender_batch_id`, items settled
 * after a delay by a job (SUCCESS, or UNCLAIMED for receivers configured so, RETURNED later), with webhooks.
 * Payout amounts are `{currency, value}`, not `currency_code`.
 */
@Injectable()
export class PaypalMockPayouts {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly outbox: OutboxService,
    private readonly webhooks: PaypalMockWebhooks,
    @Inject(paypalConfig.KEY) private readonly config: ConfigType<typeof paypalConfig>,
  ) {}

  async create(base: string, body: unknown, outer: EntityManager = this.dataSource.manager): Promise<Record<string, unknown>> {
    const request = (body ?? {}) as { sender_batch_header?: { sender_batch_id?: unknown }; items?: unknown };
    const header = request.sender_batch_header;
    if (!header || typeof header.sender_batch_id !== 'string' || header.sender_batch_id.length === 0) {
      throw PaypalMockError.invalid('MISSING_REQUIRED_PARAMETER', 'sender_batch_header.sender_batch_id is required.');
    }
    const items = Array.isArray(request.items)
      ? (request.items as {
          receiver?: unknown;
          amount?: { currency?: unknown; value?: unknown };
          sender_item_id?: unknown;
          note?: unknown;
        }[])
      : [];
    if (items.length === 0 || items.length > 15000)
      throw PaypalMockError.invalid('MISSING_REQUIRED_PARAMETER', 'items must hold 1 to 15000 payouts.');
    const parsed = items.map((item) => {
      if (typeof item?.receiver !== 'string' || item.receiver.length === 0)
        throw PaypalMockError.invalid('MISSING_REQUIRED_PARAMETER', 'items[].receiver is required.');
      if (item.amount?.currency !== 'USD') throw PaypalMockError.invalid('CURRENCY_NOT_SUPPORTED', 'items[].amount.currency must be USD.');
      const cents = positiveUsd(item.amount.value);
      return {
        receiver: item.receiver,
        cents,
        senderItemId: typeof item.sender_item_id === 'string' ? item.sender_item_id : null,
        note: typeof item.note === 'string' ? item.note : null,
      };
    });
    const batch = await outer.transaction(async (manager) => {
      const inserted: BatchRow[] = await manager.query(
        `INSERT INTO paypal_mock_payout_batches (id, sender_batch_id, status, sender_batch_header) VALUES ($1, $2, 'PENDING', $3)
         ON CONFLICT (sender_batch_id) DO NOTHING RETURNING *`,
        [paypalId(), header.sender_batch_id, JSON.stringify(header)],
      );
      if (inserted.length === 0) {
        // As PayPal does, the refusal links to the batch that used the sender_batch_id first.
        const first: { id: string }[] = await manager.query(`SELECT id FROM paypal_mock_payout_batches WHERE sender_batch_id = $1`, [
          header.sender_batch_id,
        ]);
        throw new PaypalMockError(
          400,
          'USER_BUSINESS_ERROR',
          'Batch with given sender_batch_id already exists',
          'DUPLICATE_SENDER_BATCH_ID',
          `sender_batch_id ${String(header.sender_batch_id)} was used before.`,
          first[0] ? [{ href: `${base}/v1/payments/payouts/${first[0].id}`, rel: 'self', method: 'GET' }] : [],
        );
      }
      for (const item of parsed) {
        await manager.query(
          `INSERT INTO paypal_mock_payout_items (id, batch_id, sender_item_id, receiver, amount_cents, currency, note, status) VALUES ($1, $2, $3, $4, $5, 'USD', $6, 'PENDING')`,
          [paypalId(), inserted[0].id, item.senderItemId, item.receiver, item.cents.toString(), item.note],
        );
      }
      await this.outbox.write(manager, {
        queue: QUEUES.sandboxWebhooks,
        jobName: JOBS.sandboxWebhooks.settlePaypalPayout,
        jobId: paypalPayoutSettleJobId(inserted[0].id),
        payload: { batchId: inserted[0].id },
        delayMs: this.config.mockPayoutDelayMs,
      });
      return inserted[0];
    });
    return {
      batch_header: this.batchHeader(batch),
      links: [{ href: `${base}/v1/payments/payouts/${batch.id}`, rel: 'self', method: 'GET', encType: 'application/json' }],
    };
  }

  /** The delayed settlement: each item SUCCESS, or UNCLAIMED for the configured receivers; the batch SUCCESS. */
  async settle(manager: EntityManager, batchId: string, base: string): Promise<void> {
    const items = await returningRows<ItemRow>(
      manager,
      `UPDATE paypal_mock_payout_items
          SET status = CASE WHEN lower(receiver) = ANY($2::text[]) THEN 'UNCLAIMED' ELSE 'SUCCESS' END,
              transaction_id = upper(substr(md5(random()::text), 1, 17)), time_processed = now()
        WHERE batch_id = $1 AND status = 'PENDING' RETURNING *`,
      [batchId, this.config.mockUnclaimedReceivers],
    );
    if (items.length === 0) return;
    for (const item of items) {
      // PayPal's payout fee: 2% of the item, at most $20 here.
      const fee = applyBps(BigInt(item.amount_cents), 200);
      await manager.query(`UPDATE paypal_mock_payout_items SET fee_cents = $2 WHERE id = $1`, [
        item.id,
        (fee > 2000n ? 2000n : fee).toString(),
      ]);
    }
    const batches = await returningRows<BatchRow>(
      manager,
      `UPDATE paypal_mock_payout_batches SET status = 'SUCCESS', completed_time = now() WHERE id = $1 RETURNING *`,
      [batchId],
    );
    for (const item of await this.items(batchId, manager)) {
      await this.webhooks.emit(manager, ITEM_EVENTS[item.status as 'SUCCESS' | 'UNCLAIMED'], this.itemView(base, item));
      if (item.status === 'UNCLAIMED') {
        await this.outbox.write(manager, {
          queue: QUEUES.sandboxWebhooks,
          jobName: JOBS.sandboxWebhooks.returnPaypalPayoutItem,
          jobId: paypalPayoutReturnJobId(item.id),
          payload: { itemId: item.id },
          delayMs: this.config.mockUnclaimedReturnMs,
        });
      }
    }
    await this.webhooks.emit(manager, 'PAYMENT.PAYOUTSBATCH.SUCCESS', { batch_header: this.batchHeader(batches[0]) });
  }

  /** An unclaimed item goes back to the sender after the claim period. */
  async returnUnclaimed(manager: EntityManager, itemId: string, base: string): Promise<void> {
    const items = await returningRows<ItemRow>(
      manager,
      `UPDATE paypal_mock_payout_items SET status = 'RETURNED' WHERE id = $1 AND status = 'UNCLAIMED' RETURNING *`,
      [itemId],
    );
    if (items[0]) await this.webhooks.emit(manager, ITEM_EVENTS.RETURNED, this.itemView(base, items[0]));
  }

  async getBatch(base: string, id: string): Promise<Record<string, unknown>> {
    const rows: BatchRow[] = await this.dataSource.query(`SELECT * FROM paypal_mock_payout_batches WHERE id = $1`, [id]);
    if (!rows[0]) throw PaypalMockError.notFound(id);
    const items = await this.items(id);
    const total = items.reduce((sum, item) => sum + BigInt(item.amount_cents), 0n);
    const fees = items.reduce((sum, item) => sum + BigInt(item.fee_cents), 0n);
    return {
      batch_header: {
        ...this.batchHeader(rows[0]),
        amount: { currency: 'USD', value: formatAmount(total, 'USD') },
        fees: { currency: 'USD', value: formatAmount(fees, 'USD') },
      },
      items: items.map((item) => this.itemView(base, item)),
      links: [{ href: `${base}/v1/payments/payouts/${id}`, rel: 'self', method: 'GET', encType: 'application/json' }],
    };
  }

  async getItem(base: string, id: string): Promise<Record<string, unknown>> {
    const rows: ItemRow[] = await this.dataSource.query(`SELECT * FROM paypal_mock_payout_items WHERE id = $1`, [id]);
    if (!rows[0]) throw PaypalMockError.notFound(id);
    return this.itemView(base, rows[0]);
  }

  private items(batchId: string, manager?: EntityManager): Promise<ItemRow[]> {
    return (manager ?? this.dataSource.manager).query(`SELECT * FROM paypal_mock_payout_items WHERE batch_id = $1 ORDER BY id`, [batchId]);
  }

  private batchHeader(batch: BatchRow): Record<string, unknown> {
    return {
      payout_batch_id: batch.id,
      batch_status: batch.status,
      time_created: batch.create_time.toISOString(),
      ...(batch.completed_time ? { time_completed: batch.completed_time.toISOString() } : {}),
      sender_batch_header: batch.sender_batch_header,
    };
  }

  private itemView(base: string, item: ItemRow): Record<string, unknown> {
    return {
      payout_item_id: item.id,
      transaction_id: item.transaction_id ?? undefined,
      transaction_status: item.status,
      payout_batch_id: item.batch_id,
      payout_item_fee: { currency: item.currency, value: formatAmount(BigInt(item.fee_cents), 'USD') },
      payout_item: {
        recipient_type: 'EMAIL',
        amount: { currency: item.currency, value: formatAmount(BigInt(item.amount_cents), 'USD') },
        note: item.note ?? undefined,
        receiver: item.receiver,
        sender_item_id: item.sender_item_id ?? undefined,
      },
      time_processed: item.time_processed?.toISOString(),
      links: [{ href: `${base}/v1/payments/payouts-item/${item.id}`, rel: 'item', method: 'GET', encType: 'application/json' }],
    };
  }
}
