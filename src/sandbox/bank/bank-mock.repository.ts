import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { returningRow } from '../../common/database/query';

export interface TransferRow {
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

/** The bank mock's tables: its transfers (incoming and returns) and the accounts it knows closed. */
@Injectable()
export class BankMockRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insertIncoming(
    manager: EntityManager,
    input: { reference: string; amountCents: bigint; senderAccount: string },
  ): Promise<TransferRow> {
    const rows: TransferRow[] = await manager.query(
      `INSERT INTO bank_mock_transfers (id, direction, reference, amount_cents, sender_account, status)
       VALUES ($1, 'incoming', $2, $3, $4, 'pending') RETURNING *`,
      [newTransferId(), input.reference, input.amountCents.toString(), input.senderAccount],
    );
    return rows[0];
  }

  /** A return to the incoming transfer's sender under an idempotency key; undefined when the key was taken first. */
  async insertReturn(
    manager: EntityManager,
    incoming: TransferRow,
    amountCents: bigint,
    idempotencyKey: string,
  ): Promise<TransferRow | undefined> {
    const rows: TransferRow[] = await manager.query(
      `INSERT INTO bank_mock_transfers (id, direction, amount_cents, sender_account, returns_transfer_id, idempotency_key, status)
       VALUES ($1, 'return', $2, $3, $4, $5, 'pending') ON CONFLICT (idempotency_key) DO NOTHING RETURNING *`,
      [newTransferId(), amountCents.toString(), incoming.sender_account, incoming.id, idempotencyKey],
    );
    return rows[0];
  }

  async find(id: string, manager: EntityManager = this.dataSource.manager, lock = false): Promise<TransferRow | undefined> {
    const rows: TransferRow[] = await manager.query(`SELECT * FROM bank_mock_transfers WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
    return rows[0];
  }

  async findPendingForUpdate(manager: EntityManager, id: string): Promise<TransferRow | undefined> {
    const rows: TransferRow[] = await manager.query(`SELECT * FROM bank_mock_transfers WHERE id = $1 AND status = 'pending' FOR UPDATE`, [
      id,
    ]);
    return rows[0];
  }

  async findByIdempotencyKey(manager: EntityManager, idempotencyKey: string): Promise<TransferRow | undefined> {
    const rows: TransferRow[] = await manager.query(`SELECT * FROM bank_mock_transfers WHERE idempotency_key = $1`, [idempotencyKey]);
    return rows[0];
  }

  incomingByReference(reference: string): Promise<TransferRow[]> {
    return this.dataSource.query(
      `SELECT * FROM bank_mock_transfers WHERE direction = 'incoming' AND reference = $1 ORDER BY created_at, id LIMIT 100`,
      [reference],
    );
  }

  /** The returns made of an incoming transfer, oldest first. */
  returnsOf(transferId: string): Promise<TransferRow[]> {
    return this.dataSource.query(`SELECT * FROM bank_mock_transfers WHERE returns_transfer_id = $1 ORDER BY created_at, id LIMIT 100`, [
      transferId,
    ]);
  }

  /** Incoming transfers settled in `[from, to]`, oldest first. */
  settledIncoming(from: Date, to: Date, limit: number, offset: number): Promise<TransferRow[]> {
    return this.dataSource.query(
      `SELECT * FROM bank_mock_transfers WHERE direction = 'incoming' AND settled_at BETWEEN $1 AND $2
        ORDER BY settled_at, id LIMIT $3 OFFSET $4`,
      [from, to, limit, offset],
    );
  }

  /** What is already being or was returned of an incoming transfer (returns neither failed nor bounced). */
  async returnedOf(manager: EntityManager, incomingId: string): Promise<bigint> {
    const rows: { total: string }[] = await manager.query(
      `SELECT coalesce(sum(amount_cents), 0)::text AS total FROM bank_mock_transfers WHERE returns_transfer_id = $1 AND status NOT IN ('failed', 'returned')`,
      [incomingId],
    );
    return BigInt(rows[0].total);
  }

  async markSettled(manager: EntityManager, id: string): Promise<TransferRow> {
    return returningRow<TransferRow>(
      manager,
      `UPDATE bank_mock_transfers SET status = 'settled', settled_at = now() WHERE id = $1 RETURNING *`,
      [id],
    );
  }

  /** A settled return → returned; undefined when it was not one. */
  async markReturned(manager: EntityManager, id: string): Promise<TransferRow | undefined> {
    return returningRow<TransferRow>(
      manager,
      `UPDATE bank_mock_transfers SET status = 'returned' WHERE id = $1 AND direction = 'return' AND status = 'settled' RETURNING *`,
      [id],
    );
  }

  async setAccount(account: string, closed: boolean): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO bank_mock_accounts (account, closed) VALUES ($1, $2)
       ON CONFLICT (account) DO UPDATE SET closed = EXCLUDED.closed, updated_at = now()`,
      [account, closed],
    );
  }

  async isClosed(manager: EntityManager, account: string | null): Promise<boolean> {
    const rows = await manager.query(`SELECT closed FROM bank_mock_accounts WHERE account = $1`, [account]);
    return rows[0]?.closed === true;
  }
}

function newTransferId(): string {
  return `BT${randomBytes(10).toString('hex').toUpperCase()}`;
}
