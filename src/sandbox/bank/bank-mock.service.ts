import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { returningRows } from '../../common/database/query';
import { DomainError } from '../../common/errors';
import { formatAmount } from '../../common/money';
import { bankConfig } from '../../config';
import { OutboxService } from '../../outbox/outbox.service';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { draw } from '../faults';
import { FaultsService } from '../faults.service';
import { SandboxUrls } from '../sandbox-urls';
import { bankBounceJobId, bankSettleJobId, bankWebhookJobId } from '../../queues/job-ids';
import { mockWebhookRetry } from '../../queues/retry-policies';

interface TransferRow {
  id: string;
  direction: 'incoming' | 'return';
  reference: string | null;
  amount_cents: string;
  sender_account: string | null;
  returns_transfer_id: string | null;
  status: 'pending' | 'settled' | 'failed' | 'returned';
  created_at: Date;
  settled_at: Date | null;
}

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
    @InjectDataSource() private readonly dataSource: DataSource,
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
    return this.dataSource.transaction(async (manager) => {
      const rows: TransferRow[] = await manager.query(
        `INSERT INTO bank_mock_transfers (id, direction, reference, amount_cents, sender_account, status)
         VALUES ($1, 'incoming', $2, $3, $4, 'pending') RETURNING *`,
        [newTransferId(), input.reference, input.amountCents.toString(), input.senderAccount],
      );
      await this.scheduleSettlement(manager, rows[0].id);
      return view(rows[0]);
    });
  }

  async find(id: string): Promise<BankTransferView> {
    const rows: TransferRow[] = await this.dataSource.query(`SELECT * FROM bank_mock_transfers WHERE id = $1`, [id]);
    if (!rows[0]) throw DomainError.notFound('Transfer');
    return view(rows[0]);
  }

  async incomingByReference(reference: string): Promise<BankTransferView[]> {
    const rows: TransferRow[] = await this.dataSource.query(
      `SELECT * FROM bank_mock_transfers WHERE direction = 'incoming' AND reference = $1 ORDER BY created_at, id LIMIT 100`,
      [reference],
    );
    return rows.map(view);
  }

  /** The returns made of an incoming transfer, oldest first (what the sender's statement shows came back). */
  async returnsOf(transferId: string): Promise<BankTransferView[]> {
    const rows: TransferRow[] = await this.dataSource.query(
      `SELECT * FROM bank_mock_transfers WHERE returns_transfer_id = $1 ORDER BY created_at, id LIMIT 100`,
      [transferId],
    );
    return rows.map(view);
  }

  /** Incoming transfers settled in `[from, to]`, oldest first, one page (the bank's statement, for reconciliation). */
  async settledIncoming(from: Date, to: Date, page: number, limit: number): Promise<{ data: BankTransferView[]; hasMore: boolean }> {
    const rows: TransferRow[] = await this.dataSource.query(
      `SELECT * FROM bank_mock_transfers WHERE direction = 'incoming' AND settled_at BETWEEN $1 AND $2
        ORDER BY settled_at, id LIMIT $3 OFFSET $4`,
      [from, to, limit + 1, (page - 1) * limit],
    );
    return { data: rows.slice(0, limit).map(view), hasMore: rows.length > limit };
  }

  /**
   * Sends (part of) a settled incoming transfer back to its sender. The idempotency key makes a retry find
   * the first return; more than what is left of the transfer is refused. Identical calls queue on the
   * transfer's row lock; a call with the same key for another transfer meets the first at the key's unique
   * index, waits for it, and is refused as a reuse.
   */
  async createReturn(idempotencyKey: string, input: { transferId: string; amountCents: bigint }): Promise<BankTransferView> {
    return this.dataSource.transaction(async (manager) => {
      const original: TransferRow[] = await manager.query(`SELECT * FROM bank_mock_transfers WHERE id = $1 FOR UPDATE`, [input.transferId]);
      const incoming = original[0];
      const existing: TransferRow[] = await manager.query(`SELECT * FROM bank_mock_transfers WHERE idempotency_key = $1`, [idempotencyKey]);
      if (existing[0]) return view(sameReturn(existing[0], input));
      if (!incoming || incoming.direction !== 'incoming') throw DomainError.notFound('Transfer');
      if (incoming.status !== 'settled') throw new DomainError('conflict', 'Only a settled transfer can be returned');
      const returned: { total: string }[] = await manager.query(
        `SELECT coalesce(sum(amount_cents), 0)::text AS total FROM bank_mock_transfers WHERE returns_transfer_id = $1 AND status NOT IN ('failed', 'returned')`,
        [incoming.id],
      );
      if (BigInt(returned[0].total) + input.amountCents > BigInt(incoming.amount_cents)) {
        throw new DomainError('insufficient_amount', 'More than what is left of the transfer');
      }
      const rows: TransferRow[] = await manager.query(
        `INSERT INTO bank_mock_transfers (id, direction, amount_cents, sender_account, returns_transfer_id, idempotency_key, status)
         VALUES ($1, 'return', $2, $3, $4, $5, 'pending') ON CONFLICT (idempotency_key) DO NOTHING RETURNING *`,
        [newTransferId(), input.amountCents.toString(), incoming.sender_account, incoming.id, idempotencyKey],
      );
      if (!rows[0]) {
        // A concurrent return took the key first (committed by now: the insert waited for it).
        const first: TransferRow[] = await manager.query(`SELECT * FROM bank_mock_transfers WHERE idempotency_key = $1`, [idempotencyKey]);
        return view(sameReturn(first[0], input));
      }
      await this.scheduleSettlement(manager, rows[0].id);
      return view(rows[0]);
    });
  }

  /**
   * The delay has passed: pending → settled, reported once. A return to a closed account settles too (the
   * money left), and the receiving bank sends it back a delay later (`bounce`).
   */
  async settle(manager: EntityManager, id: string): Promise<void> {
    const rows: TransferRow[] = await manager.query(`SELECT * FROM bank_mock_transfers WHERE id = $1 AND status = 'pending' FOR UPDATE`, [
      id,
    ]);
    const transfer = rows[0];
    if (!transfer) return;
    const updated = await returningRows<TransferRow>(
      manager,
      `UPDATE bank_mock_transfers SET status = 'settled', settled_at = now() WHERE id = $1 RETURNING *`,
      [id],
    );
    await this.emit(manager, transfer.direction === 'incoming' ? 'transfer.settled' : 'return.settled', view(updated[0]));
    if (transfer.direction === 'return' && (await this.isClosed(manager, transfer.sender_account))) {
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
    const updated = await returningRows<TransferRow>(
      manager,
      `UPDATE bank_mock_transfers SET status = 'returned' WHERE id = $1 AND direction = 'return' AND status = 'settled' RETURNING *`,
      [id],
    );
    if (updated[0]) await this.emit(manager, 'return.returned', view(updated[0]));
  }

  /** Sandbox: an account is closed (returns to it bounce) or open again. */
  async setAccount(account: string, closed: boolean): Promise<{ account: string; closed: boolean }> {
    await this.dataSource.query(
      `INSERT INTO bank_mock_accounts (account, closed) VALUES ($1, $2)
       ON CONFLICT (account) DO UPDATE SET closed = EXCLUDED.closed, updated_at = now()`,
      [account, closed],
    );
    return { account, closed };
  }

  private async isClosed(manager: EntityManager, account: string | null): Promise<boolean> {
    const rows = await manager.query(`SELECT closed FROM bank_mock_accounts WHERE account = $1`, [account]);
    return rows[0]?.closed === true;
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
    const settings = await this.faults.get('bank', manager);
    const seed = settings.seed ?? 0;
    const roll = (purpose: string) => draw(seed, BigInt(Date.now()), `${purpose}:${event.id}`);
    if (settings.dropWebhooks && roll('drop') < settings.dropWebhooks) return;
    const copies = settings.duplicateWebhooks && roll('duplicate') < settings.duplicateWebhooks ? 2 : 1;
    for (let copy = 0; copy < copies; copy += 1) {
      await this.outbox.write(manager, {
        queue: QUEUES.sandboxBank,
        jobName: JOBS.sandboxBank.deliverWebhook,
        jobId: bankWebhookJobId(event.id, copy),
        payload: { event, url: this.config.mockWebhookUrl ?? this.urls.callback('bank') },
        delayMs: settings.reorderWebhooks ? Math.floor(roll(`reorder:${copy}`) * 2000) : 0,
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

function newTransferId(): string {
  return `BT${randomBytes(10).toString('hex').toUpperCase()}`;
}
