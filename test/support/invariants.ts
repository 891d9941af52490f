import type { Client } from 'pg';

/**
 * Users whose live-trade counter (kept by triggers at commit) differs from a count of their live trades.
 * Run after a suite's trades have gone through its paths: every end, split and dispute must have kept it.
 */
export async function liveCounterMismatches(db: Client): Promise<{ user_id: string; counted: number; kept: number }[]> {
  const result = await db.query(
    `WITH live_sides AS (
       SELECT traveler_id AS party FROM trades WHERE state IN ('awaiting_funding', 'funded', 'payout_sent', 'releasing', 'refunding', 'disputed', 'splitting')
       UNION ALL
       SELECT counterparty_id FROM trades WHERE state IN ('awaiting_funding', 'funded', 'payout_sent', 'releasing', 'refunding', 'disputed', 'splitting')
     ), counted AS (SELECT party, count(*)::int AS n FROM live_sides GROUP BY party)
     SELECT u.id AS user_id, coalesce(c.n, 0) AS counted, coalesce(l.live, 0) AS kept
       FROM users u LEFT JOIN counted c ON c.party = u.id LEFT JOIN user_live_trades l ON l.user_id = u.id
      WHERE coalesce(c.n, 0) <> coalesce(l.live, 0)`,
  );
  return result.rows;
}
