import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { DomainError } from '../../common/errors';
import { formatAmount } from '../../common/money';
import { bankConfig } from '../../config';
import { OutboxService } from '../../outbox/outbox.service';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { webhookCopies } from '../faults';
import { FaultsService } from '../faults.service';
import { SandboxUrls } from '../sandbox-urls';
import { bankBounceJobId, bankSettleJobId, bankWebhookJobId } from '../../queues/job-ids';
import { mockWebhookRetry } from '../../queues/retry-policies';
import { BankMockRepository, TransferRow } from './bank-mock.repository';
import { Transactions } from '../../database/transactions';

/** The bank's view of a transfer, as its API answers and its callbacks carry it (no account numbers). */
export interface BankTransferView {
  id: string;
  direction: 'incoming' | 'return';
  reference: string | null;
  amount: string;
  currency: 'USD';
  status: 'pending' | 'settled' | 'failed' | 'returned';
  returnsTransferId: string | null;
  createdAt: string;
  settledAt: string | null;
}

export type BankEventType = 'transfer.settled' | 'return.settled' | 'return.returned';

const view = (row: TransferRow): BankTransferView => ({
  id: row.id,
  direction: row.direction,
  reference: row.reference,
  amount: formatAmount(BigInt(row.amount_cents), 'USD'),
  currency: 'USD',
  status: row.status,
  returnsTransferId: row.returns_transfer_id,
  createdAt: row.created_at.toISOString(),
  settledAt: row.settled_at?.toISOString() ?? null,
});

/**
 * A bank with incoming transfers matched by reference and returns to their senders. Money settles after a
 * delay (a delayed job), each change in one transaction with the callback that reports it (the outbox), so
 * a crash never loses one. A return to a closed account settles, then bounces back.
 */
@Injectable()
export class BankMockService {
  constructor(
    private readonly transactions: Transactions,
    private readonly transfers: BankMockRepository,
    private readonly outbox: OutboxService,
    private readonly faults: FaultsService,
    @Inject(bankConfig.KEY) private readonly config: ConfigType<typeof bankConfig>,
    private readonly urls: SandboxUrls,
  ) {}

  authenticate(authorization: string | undefined): void {
    const expected = Buffer.from(`Bearer ${this.config.apiKey}`);
    const given = Buffer.from(authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new DomainError('unauthenticated', 'The bank API key is missing or wrong');
    }
  }

  /** Someone's bank sends money with a reference: pending now, settled after the delay. */
  async receive(input: { reference: string; amountCents: bigint; senderAccount: string }): Promise<BankTransferView> {
    return this.transactions.run(async (manager) => {
      const transfer = await this.transfers.insertIncoming(manager, input);
      await this.scheduleSettlement(manager, transfer.id);
      return view(transfer);
    });
  }

  async find(id: string): Promise<BankTransferView> {
    const transfer = await this.transfers.find(id);
    if (!transfer) throw DomainError.notFound('Transfer');
    return view(transfer);
  }

  async incomingByReference(reference: string): Promise<BankTransferView[]> {
    return (await this.transfers.incomingByReference(reference)).map(view);
  }

  /** The returns made of an incoming transfer, oldest first (what the sender's statement shows came back). */
  async returnsOf(transferId: string): Promise<BankTransferView[]> {
    return (await this.transfers.returnsOf(transferId)).map(view);
  }

  /** Incoming transfers settled in `[from, to]`, oldest first, one page (the bank's statement, for reconciliation). */
  async settledIncoming(from: Date, to: Date, page: number, limit: number): Promise<{ data: BankTransferView[]; hasMore: boolean }> {
    const rows = await this.transfers.settledIncoming(from, to, limit + 1, (page - 1) * limit);
    return { data: rows.slice(0, limit).map(view), hasMore: rows.length > limit };
  }

  /**
   * Sends (part of) a settled incoming transfer back to its sender. The idempotency key makes a retry find
   * the first return; more than what is left of the transfer is refused. Identical calls queue on the
   * transfer's row lock; a call with the same key for another transfer meets the first at the key's unique
   * index, waits for it, and is refused as a reuse.
   */
  async createReturn(idempotencyKey: string, input: { transferId: string; amountCents: bigint }): Promise<BankTransferView> {
    return this.transactions.run(async (manager) => {
      const incoming = await this.transfers.find(input.transferId, manager, true);
      const existing = await this.transfers.findByIdempotencyKey(manager, idempotencyKey);
      if (existing) return view(sameReturn(existing, input));
      if (!incoming || incoming.direction !== 'incoming') throw DomainError.notFound('Transfer');
      if (incoming.status !== 'settled') throw new DomainError('conflict', 'Only a settled transfer can be returned');
      const returned = await this.transfers.returnedOf(manager, incoming.id);
      if (returned + input.amountCents > BigInt(incoming.amount_cents)) {
        throw new DomainError('insufficient_amount', 'More than what is left of the transfer');
      }
      const created = await this.transfers.insertReturn(manager, incoming, input.amountCents, idempotencyKey);
      if (!created) {
        // A concurrent return took the key first (committed by now: the insert waited for it).
        const first = await this.transfers.findByIdempotencyKey(manager, idempotencyKey);
        return view(sameReturn(first!, input));
      }
      await this.scheduleSettlement(manager, created.id);
      return view(created);
    });
  }

  /**
   * The delay has passed: pending → settled, reported once. A return to a closed account settles too (the
   * money left), and the receiving bank sends it back a delay later (`bounce`).
   */
  async settle(manager: EntityManager, id: string): Promise<void> {
    const transfer = await this.transfers.findPendingForUpdate(manager, id);
    if (!transfer) return;
    const updated = await this.transfers.markSettled(manager, id);
    await this.emit(manager, transfer.direction === 'incoming' ? 'transfer.settled' : 'return.settled', view(updated));
    if (transfer.direction === 'return' && (await this.transfers.isClosed(manager, transfer.sender_account))) {
      await this.outbox.write(manager, {
        queue: QUEUES.sandboxBank,
        jobName: JOBS.sandboxBank.bounceReturn,
        jobId: bankBounceJobId(id),
        payload: { id },
        delayMs: this.config.mockSettlementDelayMs,
      });
    }
  }

  /** The receiving bank refused a settled return (its account is closed): the money is back with us. */
  async bounce(manager: EntityManager, id: string): Promise<void> {
    const updated = await this.transfers.markReturned(manager, id);
    if (updated) await this.emit(manager, 'return.returned', view(updated));
  }

  /** Sandbox: an account is closed (returns to it bounce) or open again. */
  async setAccount(account: string, closed: boolean): Promise<{ account: string; closed: boolean }> {
    await this.transfers.setAccount(account, closed);
    return { account, closed };
  }

  private async scheduleSettlement(manager: EntityManager, id: string): Promise<void> {
    await this.outbox.write(manager, {
      queue: QUEUES.sandboxBank,
      jobName: JOBS.sandboxBank.settleTransfer,
      jobId: bankSettleJobId(id),
      payload: { id },
      delayMs: this.config.mockSettlementDelayMs,
    });
  }

  /** Queues the callback; the webhook faults act here, as at the PayPal mock. Each delivery is signed when sent. */
  private async emit(manager: EntityManager, type: BankEventType, data: BankTransferView): Promise<void> {
    const event = { id: `evt_${randomBytes(12).toString('hex')}`, type, created: new Date().toISOString(), data };
    const delays = webhookCopies(await this.faults.get('bank', manager), event.id);
    for (const [copy, delayMs] of delays.entries()) {
      await this.outbox.write(manager, {
        queue: QUEUES.sandboxBank,
        jobName: JOBS.sandboxBank.deliverWebhook,
        jobId: bankWebhookJobId(event.id, copy),
        payload: { event, url: this.config.mockWebhookUrl ?? this.urls.callback('bank') },
        delayMs,
        retry: mockWebhookRetry(this.config),
      });
    }
  }
}

/** The return a key already made, if this call asks for the same one; otherwise the key is being reused. */
function sameReturn(existing: TransferRow, input: { transferId: string; amountCents: bigint }): TransferRow {
  if (existing.returns_transfer_id !== input.transferId || BigInt(existing.amount_cents) !== input.amountCents) {
    throw new DomainError('idempotency_key_reused', 'This idempotency key was used for another return');
  }
  return existing;
}
