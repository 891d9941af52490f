import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { preparedInTransaction } from '../common/database/query';

/**
 * `lockCounters`' locks as CTEs for a statement that counts (`locked_counters`, to wait on): the users' rows in id
 * order, then their counters in id order. A counter's row is the user's own from sign-up, so none is created during
 * the wait on the users' rows; one updated meanwhile is locked at its latest version.
 */
function lockedCountersSql(userIds: string): string {
  return `locked_users AS MATERIALIZED (SELECT id FROM users WHERE id = ANY(${userIds}::uuid[]) ORDER BY id FOR UPDATE),
       locked_counters AS MATERIALIZED (
         SELECT user_id FROM user_reputation WHERE user_id = ANY(${userIds}::uuid[]) AND (SELECT count(*) FROM locked_users) >= 0
          ORDER BY user_id FOR UPDATE)`;
}

/**
 * Each user's reputation counters (user_reputation) and the tier they earn, counted in the transaction of the
 * trade or dispute that ends. Every path takes the users' rows before their counters, in id order.
 */
@Injectable()
export class ReputationCountersRepository {
  /** A dispute decided: the loser's and the winner's counters. */
  async countDispute(manager: EntityManager, loserId: string, winnerId: string): Promise<void> {
    await this.lockCounters(manager, [loserId, winnerId]);
    await manager.query(
      `UPDATE user_reputation SET disputes_lost = disputes_lost + CASE WHEN user_id = $1 THEN 1 ELSE 0 END,
              disputes_won = disputes_won + CASE WHEN user_id = $2 THEN 1 ELSE 0 END
        WHERE user_id IN ($1, $2)`,
      [loserId, winnerId],
    );
  }

  /**
   * A completed trade in both parties' counters, with the minutes it took each (the last 100 kept for the
   * median), and tier 1 for whoever has now earned it.
   */
  async countCompletedTrade(
    manager: EntityManager,
    minutesByUser: { userId: string; minutes: number }[],
    tier1CompletedTrades: number,
  ): Promise<void> {
    // The locks (`lockCounters`' two, in its order), both counters and the tier in one statement: the counters' update
    // waits on their locks, and the tier is read off the counters as this statement leaves them.
    await preparedInTransaction(
      manager,
      `WITH ${lockedCountersSql('$1')},
       counted AS (
         UPDATE user_reputation r SET completed_trades = r.completed_trades + 1,
                recent_release_minutes = (r.recent_release_minutes || m.minutes)[cardinality(r.recent_release_minutes) - 98:]
           FROM unnest($1::uuid[], $2::int[]) AS m (user_id, minutes)
          WHERE r.user_id = m.user_id AND (SELECT count(*) FROM locked_counters) >= 0
          RETURNING r.user_id, r.completed_trades, r.disputes_lost
       )
       UPDATE users u SET tier = 1, updated_at = now() FROM counted c
        WHERE c.user_id = u.id AND u.tier = 0 AND c.completed_trades >= $3 AND c.disputes_lost = 0`,
      [minutesByUser.map((m) => m.userId), minutesByUser.map((m) => m.minutes), tier1CompletedTrades],
    );
  }

  /**
   * A rating received, in the rating's transaction: its score into the rated user's sum and count, from which the
   * average is computed (never from the ratings themselves).
   */
  async countRating(manager: EntityManager, ratedId: string, score: number): Promise<void> {
    await this.lockCounters(manager, [ratedId]);
    await manager.query(`UPDATE user_reputation SET rating_sum = rating_sum + $2, rating_count = rating_count + 1 WHERE user_id = $1`, [
      ratedId,
      score,
    ]);
  }

  /**
   * The users' rows, then their counters, each in id order: every path that counts (a completion, a dispute
   * decided, a trade ended, a rating) takes them the same way, so two of them for the same people never deadlock.
   */
  private async lockCounters(manager: EntityManager, userIds: string[]): Promise<void> {
    await manager.query(`SELECT id FROM users WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, [userIds]);
    await manager.query(`SELECT 1 FROM user_reputation WHERE user_id = ANY($1::uuid[]) ORDER BY user_id FOR UPDATE`, [userIds]);
  }

  /** The reputation counter for a trade that ended uncompleted by this user's doing. */
  async countFailedTrade(manager: EntityManager, userId: string): Promise<void> {
    await manager.query(`UPDATE user_reputation SET failed_trades = failed_trades + 1 WHERE user_id = $1`, [userId]);
  }
}
