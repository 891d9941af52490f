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

  /** How many messages the user posted in the last minute, by PostgreSQL's clock. */
  async postedInLastMinute(manager: EntityManager, senderId: string): Promise<number> {
    const rows: { n: number }[] = await manager.query(
      `SELECT count(*)::int AS n FROM trade_messages WHERE sender_id = $1 AND created_at > now() - interval '1 minute'`,
      [senderId],
    );
    return rows[0].n;
  }

  /**
   * Stores a message, only while the trade has not ended or ended less than `windowAfterEndMs` ago (by PostgreSQL's
   * clock, in the same statement); null when it is closed.
   */
  async insert(
    manager: EntityManager,
    message: { tradeId: string; sender: { kind: SenderKind; id: string }; text: string; windowAfterEndMs: number },
  ): Promise<Message | null> {
    const sealed = sealMessage(this.encryption, message.text);
    const rows: MessageRow[] = await manager.query(
      `INSERT INTO trade_messages (trade_id, sender_kind, sender_id, text_ciphertext, text_key_id)
       SELECT t.id, $2, $3, $4, $5 FROM trades t
        WHERE t.id = $1
          -- A duration in SQL, as a double: 7 days (6e8 ms) fits an integer, a configured longer one may not.
          AND (t.ended_at IS NULL OR t.ended_at > now() - $6::double precision * interval '1 millisecond')
       RETURNING ${COLUMNS}`,
      [message.tradeId, message.sender.kind, message.sender.id, sealed.ciphertext, sealed.keyId, message.windowAfterEndMs],
    );
    return rows[0] ? this.toMessage(rows[0]) : null;
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
