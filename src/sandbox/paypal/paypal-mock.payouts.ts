import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { EntityManager } from 'typeorm';
import { randomBytes } from 'node:crypto';
import { applyBps, formatAmount } from '../../common/money';
import { paypalConfig } from '../../config';
import { OutboxPublisher } from '../../outbox/outbox.publisher';
import { OutboxMessage, OutboxService } from '../../outbox/outbox.service';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { paypalPayoutReturnJobId, paypalPayoutSettleJobId } from '../../queues/job-ids';
import { PaypalMockError } from './paypal-mock.errors';
import { paypalId, positiveUsd } from './paypal-mock.rows';
import type { MockResponse, ReplayKey } from './paypal-mock.replays';
import { BatchRow, ItemRow, PaypalMockPayoutsRepository } from './paypal-mock-payouts.repository';
import { PaypalMockWebhooks } from './paypal-mock.webhooks';
import { SandboxUrls } from '../sandbox-urls';

const ITEM_EVENTS = {
  SUCCESS: 'PAYMENT.PAYOUTS-ITEM.SUCCEEDED',
  UNCLAIMED: 'PAYMENT.PAYOUTS-ITEM.UNCLAIMED',
  RETURNED: 'PAYMENT.PAYOUTS-ITEM.RETURNED',
} as const;

const minBig = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/** PayPal's payout fee: 2% of the item, at most $20 here (half up to the cent). */
const PAYOUT_FEE = { bps: 200, capCents: 2000n };

/**
 * Payouts v1 as PayPal's legacy clients call them: batches deduplicated by `sender_batch_id`, items settled
 * after a delay (SUCCESS, or UNCLAIMED for receivers configured so, RETURNED later), with webhooks.
 * Payout amounts are `{currency, value}`, not `currency_code`.
 *
 * The settlement is queued in the batch's transaction as a delayed job; when the delay is short (the default 2 s)
 * the process that created the batch settles it itself at its time (`OutboxPublisher.runFirst`), the job only the
 * fallback (a crash, a shutdown, a failure). Settling twice settles once (`settleBatch` is conditional).
 */
@Injectable()
export class PaypalMockPayouts implements OnModuleInit {
  constructor(
    private readonly outbox: OutboxService,
    private readonly webhooks: PaypalMockWebhooks,
    private readonly payouts: PaypalMockPayoutsRepository,
    @Inject(paypalConfig.KEY) private readonly config: ConfigType<typeof paypalConfig>,
    private readonly publisher: OutboxPublisher,
    private readonly urls: SandboxUrls,
  ) {}

  onModuleInit(): void {
    this.publisher.runFirst(QUEUES.sandboxWebhooks, JOBS.sandboxWebhooks.settlePaypalPayout, async (row) => {
      const { batchId } = row.payload as { batchId: string };
      await this.settle(batchId, this.urls.mock('paypal'));
      return { done: true };
    });
  }

  /**
   * A batch with its items and its settlement, written in one statement sent in autocommit (under a PayPal-Request-Id,
   * `replay`, with the id's answer, which `answer` makes from the answer's body). Undefined when the id had its answer.
   */
  async create(
    base: string,
    body: unknown,
    answer: (made: Record<string, unknown>) => MockResponse,
    replay?: ReplayKey,
  ): Promise<MockResponse | undefined> {
    const request = (body ?? {}) as { sender_batch_header?: { sender_batch_id?: unknown }; items?: unknown };
    const header = request.sender_batch_header;
    if (!header || typeof header.sender_batch_id !== 'string' || header.sender_batch_id.length === 0) {
      throw PaypalMockError.invalid('MISSING_REQUIRED_PARAMETER', 'sender_batch_header.sender_batch_id is required.');
    }
    const senderBatchId = header.sender_batch_id;
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
    const batch: BatchRow = {
      id: paypalId(),
      sender_batch_id: senderBatchId,
      status: 'PENDING',
      sender_batch_header: header,
      create_time: new Date(),
      completed_time: null,
    };
    const response = answer({
      batch_header: this.batchHeader(batch),
      links: [{ href: `${base}/v1/payments/payouts/${batch.id}`, rel: 'self', method: 'GET', encType: 'application/json' }],
    });
    const settle = this.outbox.rowForStatement({
      queue: QUEUES.sandboxWebhooks,
      jobName: JOBS.sandboxWebhooks.settlePaypalPayout,
      jobId: paypalPayoutSettleJobId(batch.id),
      payload: { batchId: batch.id },
      delayMs: this.config.mockPayoutDelayMs,
    });
    const outboxIds = await this.payouts.insertBatch(batch, parsed, [settle], replay && { ...replay, ...response });
    if (outboxIds) {
      this.outbox.publishWritten([{ row: settle, id: outboxIds[0] }], Date.now());
      return response;
    }
    // As PayPal does, the refusal links to the batch that used the sender_batch_id first.
    const first = await this.payouts.batchIdOfSender(senderBatchId);
    if (!first) return undefined;
    throw new PaypalMockError(
      400,
      'USER_BUSINESS_ERROR',
      'Batch with given sender_batch_id already exists',
      'DUPLICATE_SENDER_BATCH_ID',
      `sender_batch_id ${senderBatchId} was used before.`,
      [{ href: `${base}/v1/payments/payouts/${first}`, rel: 'self', method: 'GET' }],
    );
  }

  /**
   * The delayed settlement: each PENDING item SUCCESS, or UNCLAIMED for the configured receivers, with its fee; the
   * batch SUCCESS. Decided from the batch as read, and written with its webhooks and the returns of unclaimed items
   * in one statement sent in autocommit, which writes nothing if the batch was settled meanwhile (the job and the
   * process that created the batch may both run it).
   */
  async settle(batchId: string, base: string): Promise<void> {
    const found = await this.payouts.findBatch(batchId);
    const pending = found?.items.filter((item) => item.status === 'PENDING') ?? [];
    if (!found || pending.length === 0) return;
    const now = new Date();
    const unclaimed = this.config.mockUnclaimedReceivers;
    const items = pending.map((item): ItemRow => ({
      ...item,
      status: unclaimed.includes(item.receiver.toLowerCase()) ? 'UNCLAIMED' : 'SUCCESS',
      fee_cents: minBig(PAYOUT_FEE.capCents, applyBps(BigInt(item.amount_cents), PAYOUT_FEE.bps)).toString(),
      transaction_id: randomBytes(9).toString('hex').slice(0, 17).toUpperCase(),
      time_processed: now,
    }));
    const batch: BatchRow = { ...found.batch, status: 'SUCCESS', completed_time: now };
    const returns = items
      .filter((item) => item.status === 'UNCLAIMED')
      .map((item) =>
        this.outbox.rowForStatement({
          queue: QUEUES.sandboxWebhooks,
          jobName: JOBS.sandboxWebhooks.returnPaypalPayoutItem,
          jobId: paypalPayoutReturnJobId(item.id),
          payload: { itemId: item.id },
          delayMs: this.config.mockUnclaimedReturnMs,
        }),
      );
    const webhooks = await this.webhooks.forStatement([
      ...items.map((item) => ({ type: ITEM_EVENTS[item.status as 'SUCCESS' | 'UNCLAIMED'], resource: this.itemView(base, item) })),
      { type: 'PAYMENT.PAYOUTSBATCH.SUCCESS' as const, resource: { batch_header: this.batchHeader(batch) } },
    ]);
    const outboxIds = await this.payouts.settleBatch({ batch, items }, [...returns, ...webhooks.rows], webhooks.transmissions);
    if (!outboxIds) return;
    this.outbox.publishWritten(
      returns.map((row, i) => ({ row, id: outboxIds[i] })),
      Date.now(),
    );
    this.webhooks.published(webhooks.rows, outboxIds.slice(returns.length));
  }

  /** A later step of a payout (its settlement, an item's return), queued in the caller's transaction. */
  private async later(manager: EntityManager, job: Pick<OutboxMessage, 'jobName' | 'jobId' | 'payload'>, delayMs: number): Promise<void> {
    await this.outbox.write(manager, { queue: QUEUES.sandboxWebhooks, ...job, delayMs });
  }

  /** An unclaimed item goes back to the sender after the claim period. */
  async returnUnclaimed(manager: EntityManager, itemId: string, base: string): Promise<void> {
    const item = await this.payouts.returnItem(manager, itemId);
    if (item) await this.webhooks.emit(manager, ITEM_EVENTS.RETURNED, this.itemView(base, item));
  }

  async getBatch(base: string, id: string): Promise<Record<string, unknown>> {
    const found = await this.payouts.findBatch(id);
    if (!found) throw PaypalMockError.notFound(id);
    const { batch, items } = found;
    const total = items.reduce((sum, item) => sum + BigInt(item.amount_cents), 0n);
    const fees = items.reduce((sum, item) => sum + BigInt(item.fee_cents), 0n);
    return {
      batch_header: {
        ...this.batchHeader(batch),
        amount: { currency: 'USD', value: formatAmount(total, 'USD') },
        fees: { currency: 'USD', value: formatAmount(fees, 'USD') },
      },
      items: items.map((item) => this.itemView(base, item)),
      links: [{ href: `${base}/v1/payments/payouts/${id}`, rel: 'self', method: 'GET', encType: 'application/json' }],
    };
  }

  async getItem(base: string, id: string): Promise<Record<string, unknown>> {
    const item = await this.payouts.findItem(id);
    if (!item) throw PaypalMockError.notFound(id);
    return this.itemView(base, item);
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
