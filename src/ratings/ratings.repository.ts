import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { FieldEncryption, storedField } from '../common/crypto/field-encryption';
import { changedRows } from '../common/database/query';
import { openComment, sealComment } from './rating-content';
import type { RaterRole, Rating, RatingPosition } from './rating.types';

interface RatingRow {
  id: string;
  trade_id: string;
  rater_id: string;
  rated_id: string;
  rater_role: RaterRole;
  score: number;
  comment_ciphertext: string | null;
  comment_key_id: string | null;
  created_at: Date;
}

const COLUMNS = `id, trade_id, rater_id, rated_id, rater_role, score, comment_ciphertext, comment_key_id, created_at`;

/** Ratings, in SQL: their insert, the lists of what a user received and gave, and the erasure of a rater's comments. */
@Injectable()
export class RatingsRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly encryption: FieldEncryption,
  ) {}

  private toRating(r: RatingRow): Rating {
    return {
      id: r.id,
      tradeId: r.trade_id,
      raterId: r.rater_id,
      ratedId: r.rated_id,
      raterRole: r.rater_role,
      score: r.score,
      comment: openComment(this.encryption, storedField(r.comment_ciphertext, r.comment_key_id)),
      createdAt: r.created_at,
    };
  }

  /**
   * Both parties' rows `FOR UPDATE`, in id order (lock order 3: before the trade's row the rating's foreign key
   * shares, and the rated user's counters). Whether the rater's account is still there: a rating authenticated
   * just before its rater's deletion committed finds it deleted here.
   */
  async lockParties(manager: EntityManager, raterId: string, ratedId: string): Promise<boolean> {
    const rows: { id: string; live: boolean }[] = await manager.query(
      `SELECT id, deleted_at IS NULL AS live FROM users WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
      [[raterId, ratedId]],
    );
    return rows.some((row) => row.id === raterId && row.live);
  }

  /** The rating, or null when this rater has already rated this trade (the unique constraint, raced or not). */
  async insert(
    manager: EntityManager,
    rating: { tradeId: string; raterId: string; ratedId: string; raterRole: RaterRole; score: number; comment: string | null },
  ): Promise<Rating | null> {
    const sealed = sealComment(this.encryption, rating.comment);
    const rows: RatingRow[] = await manager.query(
      `INSERT INTO ratings (trade_id, rater_id, rated_id, rater_role, score, comment_ciphertext, comment_key_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT ON CONSTRAINT ratings_one_per_party DO NOTHING RETURNING ${COLUMNS}`,
      [rating.tradeId, rating.raterId, rating.ratedId, rating.raterRole, rating.score, sealed?.ciphertext ?? null, sealed?.keyId ?? null],
    );
    return rows.length === 0 ? null : this.toRating(rows[0]);
  }

  async userExists(id: string): Promise<boolean> {
    const rows = await this.dataSource.query(`SELECT 1 FROM users WHERE id = $1`, [id]);
    return rows.length > 0;
  }

  /** What a user received, newest first, after `after`. */
  async received(ratedId: string, limit: number, after?: RatingPosition): Promise<Rating[]> {
    const rows: RatingRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM ratings
        WHERE rated_id = $1 ${after ? 'AND (created_at, id) < ($3::timestamptz, $4::uuid)' : ''}
        ORDER BY created_at DESC, id DESC LIMIT $2`,
      after ? [ratedId, limit, after.createdAt, after.id] : [ratedId, limit],
    );
    return rows.map((row) => this.toRating(row));
  }

  /** What a user gave, oldest first, after `after` (the account export). */
  async given(raterId: string, limit: number, after?: RatingPosition): Promise<Rating[]> {
    const rows: RatingRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM ratings
        WHERE rater_id = $1 ${after ? 'AND (created_at, id) > ($3::timestamptz, $4::uuid)' : ''}
        ORDER BY created_at, id LIMIT $2`,
      after ? [raterId, limit, after.createdAt, after.id] : [raterId, limit],
    );
    return rows.map((row) => this.toRating(row));
  }

  /**
   * Erases the comments this rater wrote, in the account deletion's transaction, once the rater is marked deleted
   * (the only change the table's trigger allows besides key rotation). Scores stay, and so does the reputation
   * they counted into. Returns how many.
   */
  async eraseCommentsBy(manager: EntityManager, raterId: string): Promise<number> {
    return changedRows(
      manager,
      `UPDATE ratings SET comment_ciphertext = NULL, comment_key_id = NULL, comment_erased_at = now()
        WHERE rater_id = $1 AND comment_ciphertext IS NOT NULL RETURNING id`,
      [raterId],
    );
  }
}
