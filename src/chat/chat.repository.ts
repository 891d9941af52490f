import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { FieldEncryption, storedField } from '../common/crypto/field-encryption';
import { Message, openMessage, sealMessage, SenderKind } from './message-content';

interface MessageRow {
  id: string;
  seq: string;
  trade_id: string;
  sender_kind: SenderKind;
  sender_id: string;
  text_ciphertext: string | null;
  text_key_id: string | null;
  erased_at: Date | null;
  created_at: Date;
}

const COLUMNS = 'id, seq::text AS seq, trade_id, sender_kind, sender_id, text_ciphertext, text_key_id, erased_at, created_at';

/** Trade messages in SQL; texts are sealed and opened here (message-content.ts), never stored or returned in clear. */
@Injectable()
export class ChatRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly encryption: FieldEncryption,
  ) {}

  private toMessage(r: MessageRow): Message {
    return {
      id: r.id,
      seq: r.seq,
      tradeId: r.trade_id,
      sender: { kind: r.sender_kind, id: r.sender_id },
      text: openMessage(this.encryption, storedField(r.text_ciphertext, r.text_key_id)),
      erased: r.erased_at !== null,
      createdAt: r.created_at,
    };
  }

  /** Whether the trade has ever had a dispute (open or resolved): operators read its messages only then. */
  async hadDispute(tradeId: string): Promise<boolean> {
    const rows: { had: boolean }[] = await this.dataSource.query(
      `SELECT EXISTS (SELECT 1 FROM disputes WHERE trade_id = $1) OR EXISTS (SELECT 1 FROM trades WHERE id = $1 AND dispute_id IS NOT NULL) AS had`,
      [tradeId],
    );
    return rows[0].had;
  }

  /**
   * Queues the sender's posts one behind the other until this transaction ends, so each counts the ones before it
   * (the sender's row is only shared). Only posts take it, after the sender's row and before anything else.
   */
  async serializeSender(manager: EntityManager, senderId: string): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('trade_messages:' || $1::text, 0))`, [senderId]);
  }

  /**
   * How many of the user's latest `limit` messages were posted in the last minute, by PostgreSQL's clock: at most
   * `limit` rows read, whatever the sender's history.
   */
  async postedInLastMinute(manager: EntityManager, senderId: string, limit: number): Promise<number> {
    const rows: { n: number }[] = await manager.query(
      `SELECT count(*)::int AS n
         FROM (SELECT created_at FROM trade_messages WHERE sender_id = $1 ORDER BY seq DESC LIMIT $2) latest
        WHERE created_at > statement_timestamp() - interval '1 minute'`,
      [senderId, limit],
    );
    return rows[0].n;
  }

  /**
   * Stores a message, only while the trade has not ended or ended less than `windowAfterEndMs` ago, and not from a
   * suspended sender once it ended: both decided by the insert itself, on the trade's state then and PostgreSQL's
   * clock. `created_at` is the statement's time, not the transaction's, so it follows `seq` for one sender.
   */
  async insert(
    manager: EntityManager,
    message: {
      tradeId: string;
      sender: { kind: SenderKind; id: string; suspended: boolean };
      text: string;
      windowAfterEndMs: number;
    },
  ): Promise<{ stored: Message } | { refused: 'trade_closed' | 'account_suspended' | 'not_found' }> {
    const sealed = sealMessage(this.encryption, message.text);
    const rows: (Partial<MessageRow> & { ended: boolean; open: boolean })[] = await manager.query(
      `WITH t AS (
         SELECT id, ended_at IS NOT NULL AS ended,
                -- A duration in SQL, as a double: 7 days (6e8 ms) fits an integer, a configured longer one may not.
                (ended_at IS NULL OR ended_at > statement_timestamp() - $6::double precision * interval '1 millisecond') AS open
           FROM trades WHERE id = $1),
       stored AS (
         INSERT INTO trade_messages (trade_id, sender_kind, sender_id, text_ciphertext, text_key_id, created_at)
         SELECT t.id, $2, $3, $4, $5, statement_timestamp() FROM t
          WHERE t.open AND NOT (t.ended AND $7::boolean)
         RETURNING ${COLUMNS})
       SELECT t.ended, t.open, stored.* FROM t LEFT JOIN stored ON true`,
      [
        message.tradeId,
        message.sender.kind,
        message.sender.id,
        sealed.ciphertext,
        sealed.keyId,
        message.windowAfterEndMs,
        message.sender.suspended,
      ],
    );
    const row = rows[0];
    if (!row) return { refused: 'not_found' };
    if (row.id) return { stored: this.toMessage(row as MessageRow) };
    // A suspended sender first (API.md ranks 403 before 409), then the window.
    return { refused: row.ended && message.sender.suspended ? 'account_suspended' : 'trade_closed' };
  }

  /** A trade's messages, oldest first, after the message numbered `afterSeq`. */
  async list(tradeId: string, limit: number, afterSeq?: string, manager?: EntityManager): Promise<Message[]> {
    const rows: MessageRow[] = await (manager ?? this.dataSource.manager).query(
      `SELECT ${COLUMNS} FROM trade_messages WHERE trade_id = $1 AND ($2::bigint IS NULL OR seq > $2::bigint) ORDER BY seq LIMIT $3`,
      [tradeId, afterSeq ?? null, limit],
    );
    return rows.map((r) => this.toMessage(r));
  }

  async find(id: string): Promise<Message | null> {
    const rows: MessageRow[] = await this.dataSource.query(`SELECT ${COLUMNS} FROM trade_messages WHERE id = $1`, [id]);
    return rows[0] ? this.toMessage(rows[0]) : null;
  }

  /** The messages a user sent, oldest first, after `afterSeq` (the account export). */
  async sentBy(senderId: string, limit: number, afterSeq?: string): Promise<Message[]> {
    const rows: MessageRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM trade_messages WHERE sender_id = $1 AND ($2::bigint IS NULL OR seq > $2::bigint) ORDER BY seq LIMIT $3`,
      [senderId, afterSeq ?? null, limit],
    );
    return rows.map((r) => this.toMessage(r));
  }
}
