import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { FieldEncryption, storedField } from '../common/crypto/field-encryption';
import { changedRows, returningRows } from '../common/database/query';
import type { Attachment, Dispute, DisputeOutcome, DisputeReason, DisputeStatus, Statement } from './dispute.types';
import { openStatement, sealStatement, StoredAttachment, storedAttachments } from './statement-content';

interface DisputeRow {
  id: string;
  trade_id: string;
  opened_by_kind: Dispute['openedBy']['kind'];
  opened_by: string | null;
  reason: DisputeReason;
  status: DisputeStatus;
  assigned_to: string | null;
  assigned_at: Date | null;
  outcome: DisputeOutcome | null;
  traveler_usd: string | null;
  counterparty_usd: string | null;
  resolution_note: string | null;
  resolved_by: string | null;
  resolved_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

interface StatementRow {
  id: string;
  dispute_id: string;
  author_kind: Statement['author']['kind'];
  author_id: string | null;
  text_ciphertext: string | null;
  text_key_id: string | null;
  attachment_names_ciphertext: string | null;
  attachment_names_key_id: string | null;
  erased_at: Date | null;
  attachments: StoredAttachment[];
  created_at: Date;
}

const toDispute = (r: DisputeRow): Dispute => ({
  id: r.id,
  tradeId: r.trade_id,
  openedBy: { kind: r.opened_by_kind, id: r.opened_by },
  reason: r.reason,
  status: r.status,
  assignedTo: r.assigned_to,
  assignedAt: r.assigned_at,
  outcome: r.outcome,
  travelerUsd: r.traveler_usd === null ? null : BigInt(r.traveler_usd),
  counterpartyUsd: r.counterparty_usd === null ? null : BigInt(r.counterparty_usd),
  resolutionNote: r.resolution_note,
  resolvedBy: r.resolved_by,
  resolvedAt: r.resolved_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export interface QueueRow extends Dispute {
  trade: { state: string; amountUsd: bigint; amountCny: bigint; paymentMethod: string; travelerId: string; counterpartyId: string };
}

/** Disputes and their statements, in SQL. */
@Injectable()
export class DisputesRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly encryption: FieldEncryption,
  ) {}

  /** A stored statement, its text and attachment names decrypted (see statement-content.ts). */
  private toStatement(r: StatementRow): Statement {
    const { text, attachments } = openStatement(
      this.encryption,
      {
        text: storedField(r.text_ciphertext, r.text_key_id),
        attachmentNames: storedField(r.attachment_names_ciphertext, r.attachment_names_key_id),
      },
      r.attachments,
    );
    return {
      id: r.id,
      disputeId: r.dispute_id,
      author: { kind: r.author_kind, id: r.author_id },
      text,
      erased: r.erased_at !== null,
      attachments,
      createdAt: r.created_at,
    };
  }

  async insert(
    manager: EntityManager,
    dispute: { id: string; tradeId: string; openedBy: Dispute['openedBy']; reason: DisputeReason },
  ): Promise<Dispute> {
    const rows: DisputeRow[] = await manager.query(
      `INSERT INTO disputes (id, trade_id, opened_by_kind, opened_by, reason) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
      [dispute.id, dispute.tradeId, dispute.openedBy.kind, dispute.openedBy.id, dispute.reason],
    );
    return toDispute(rows[0]);
  }

  async find(id: string, manager?: EntityManager, lock = false): Promise<Dispute | null> {
    const rows: DisputeRow[] = await (manager ?? this.dataSource.manager).query(
      `SELECT * FROM disputes WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
      [id],
    );
    return rows[0] ? toDispute(rows[0]) : null;
  }

  async addStatement(
    manager: EntityManager,
    statement: { disputeId: string; author: Statement['author']; text: string; attachments: Attachment[] },
  ): Promise<Statement> {
    const sealed = sealStatement(this.encryption, statement.text, statement.attachments);
    const rows: StatementRow[] = await manager.query(
      `INSERT INTO dispute_statements (dispute_id, author_kind, author_id, text_ciphertext, text_key_id,
                                       attachment_names_ciphertext, attachment_names_key_id, attachments)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [
        statement.disputeId,
        statement.author.kind,
        statement.author.id,
        sealed.text.ciphertext,
        sealed.text.keyId,
        sealed.attachmentNames?.ciphertext ?? null,
        sealed.attachmentNames?.keyId ?? null,
        JSON.stringify(storedAttachments(statement.attachments)),
      ],
    );
    return this.toStatement(rows[0]);
  }

  async countStatementsBy(manager: EntityManager, disputeId: string, authorId: string): Promise<number> {
    const rows = await manager.query(`SELECT count(*)::int AS n FROM dispute_statements WHERE dispute_id = $1 AND author_id = $2`, [
      disputeId,
      authorId,
    ]);
    return rows[0].n;
  }

  async statements(disputeId: string): Promise<Statement[]> {
    const rows: StatementRow[] = await this.dataSource.query(
      `SELECT * FROM dispute_statements WHERE dispute_id = $1 ORDER BY created_at, id LIMIT 1000`,
      [disputeId],
    );
    return rows.map((row) => this.toStatement(row));
  }

  /** The disputes of these trades, oldest first (the account export). */
  async ofTrades(tradeIds: string[]): Promise<Dispute[]> {
    const rows: DisputeRow[] = await this.dataSource.query(
      `SELECT * FROM disputes WHERE trade_id = ANY($1::uuid[]) ORDER BY created_at, id`,
      [tradeIds],
    );
    return rows.map(toDispute);
  }

  /** Every statement of these disputes, oldest first (the account export). */
  async statementsOf(disputeIds: string[]): Promise<Statement[]> {
    const rows: StatementRow[] = await this.dataSource.query(
      `SELECT * FROM dispute_statements WHERE dispute_id = ANY($1::uuid[]) ORDER BY created_at, id`,
      [disputeIds],
    );
    return rows.map((row) => this.toStatement(row));
  }

  /**
   * Erases the text and attachment names (their ciphertexts) of every statement this author wrote, in the deletion's
   * transaction: the one change the table's trigger allows besides key rotation, and only once the author is marked
   * deleted. Returns how many.
   */
  async eraseStatementsBy(manager: EntityManager, authorId: string): Promise<number> {
    return changedRows(
      manager,
      `UPDATE dispute_statements
          SET text_ciphertext = NULL, text_key_id = NULL, attachment_names_ciphertext = NULL, attachment_names_key_id = NULL,
              erased_at = now()
        WHERE author_id = $1 AND erased_at IS NULL RETURNING id`,
      [authorId],
    );
  }

  async assign(manager: EntityManager, id: string, operatorId: string): Promise<Dispute> {
    const rows = await returningRows<DisputeRow>(
      manager,
      `UPDATE disputes SET status = 'assigned', assigned_to = $2, assigned_at = now(), updated_at = now() WHERE id = $1 RETURNING *`,
      [id, operatorId],
    );
    return toDispute(rows[0]);
  }

  async resolve(
    manager: EntityManager,
    id: string,
    decision: { operatorId: string; outcome: DisputeOutcome; travelerUsd: bigint | null; counterpartyUsd: bigint | null; note: string },
  ): Promise<Dispute> {
    const rows = await returningRows<DisputeRow>(
      manager,
      `UPDATE disputes SET status = 'resolved', assigned_to = coalesce(assigned_to, $2), assigned_at = coalesce(assigned_at, now()),
              outcome = $3, traveler_usd = $4, counterparty_usd = $5, resolution_note = $6, resolved_by = $2, resolved_at = now(),
              updated_at = now()
        WHERE id = $1 AND status <> 'resolved' RETURNING *`,
      [
        id,
        decision.operatorId,
        decision.outcome,
        decision.travelerUsd?.toString() ?? null,
        decision.counterpartyUsd?.toString() ?? null,
        decision.note,
      ],
    );
    return toDispute(rows[0]);
  }

  /** The operators' queue, oldest first, with each dispute's trade in brief; of one status, held by one operator, when asked. */
  async queue(
    status: DisputeStatus | undefined,
    limit: number,
    after?: { createdAt: string; id: string },
    assignedTo?: string,
  ): Promise<QueueRow[]> {
    const params: unknown[] = [limit];
    const where: string[] = [];
    if (status) {
      params.push(status);
      where.push(`d.status = $${params.length}`);
    }
    if (assignedTo) {
      params.push(assignedTo);
      where.push(`d.assigned_to = $${params.length}`);
    }
    if (after) {
      params.push(after.createdAt, after.id);
      where.push(`(date_trunc('milliseconds', d.created_at), d.id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
    }
    const rows: (DisputeRow & {
      t_state: string;
      t_amount_usd: string;
      t_amount_cny: string;
      t_payment_method: string;
      t_traveler_id: string;
      t_counterparty_id: string;
    })[] = await this.dataSource.query(
      `SELECT d.*, t.state AS t_state, t.amount_usd AS t_amount_usd, t.amount_cny AS t_amount_cny, t.payment_method AS t_payment_method,
              t.traveler_id AS t_traveler_id, t.counterparty_id AS t_counterparty_id
         FROM disputes d JOIN trades t ON t.id = d.trade_id
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY date_trunc('milliseconds', d.created_at), d.id LIMIT $1`,
      params,
    );
    return rows.map((r) => ({
      ...toDispute(r),
      trade: {
        state: r.t_state,
        amountUsd: BigInt(r.t_amount_usd),
        amountCny: BigInt(r.t_amount_cny),
        paymentMethod: r.t_payment_method,
        travelerId: r.t_traveler_id,
        counterpartyId: r.t_counterparty_id,
      },
    }));
  }
}
