import type { Client } from 'pg';

/**
 * What each provider saw, from the mocks' own tables, against what the trades say happened: every money movement
 * exactly once, and in the amount its trade's end calls for. Each query returns the rows that break its rule.
 */
const CHECKS: Record<string, string> = {
  // PayPal: one capture per authorization (the product captures in full, once); at most one refund per capture.
  capture_twice: `SELECT authorization_id, count(*)::int AS n FROM paypal_mock_captures GROUP BY 1 HAVING count(*) > 1`,
  refund_twice: `SELECT capture_id, count(*)::int AS n FROM paypal_mock_refunds GROUP BY 1 HAVING count(*) > 1`,
  // One payout batch per sender_batch_id is the mock's unique index; per trade, one batch (no payout came back here).
  payout_batches_per_trade: `
    SELECT t.id, count(*)::int AS n FROM trades t JOIN paypal_mock_payout_batches b ON b.sender_batch_id LIKE 'yb-' || t.id || '-payout%'
     GROUP BY t.id HAVING count(*) > 1`,
  // What the counterparty was paid is what the trade's end owes them, to the cent.
  payout_amount: `
    WITH paid AS (
      SELECT t.id, coalesce(sum(i.amount_cents), 0) AS paid FROM trades t
        LEFT JOIN paypal_mock_payout_batches b ON b.sender_batch_id LIKE 'yb-' || t.id || '-payout%'
        LEFT JOIN paypal_mock_payout_items i ON i.batch_id = b.id AND i.status <> 'FAILED'
       WHERE t.state IN ('completed', 'settled_split', 'refunded', 'cancelled', 'expired') GROUP BY t.id)
    SELECT t.id, t.state, paid.paid::text, t.amount_usd::text FROM trades t JOIN paid ON paid.id = t.id
     WHERE paid.paid <> CASE t.state
       WHEN 'completed' THEN t.amount_usd - t.fee_usd
       WHEN 'settled_split' THEN t.split_counterparty_usd - (t.split_counterparty_usd * t.fee_bps + 5000) / 10000
       ELSE 0 END`,
  // A PayPal trade refunded (or ended before settling) leaves no captured money behind: voided, or refunded in full.
  paypal_money_left: `
    SELECT t.id, t.state, a.status AS authorization, c.amount_cents::text AS captured, c.refunded_cents::text AS refunded
      FROM trades t JOIN trade_fundings f ON f.trade_id = t.id
      JOIN paypal_mock_authorizations a ON a.id = f.authorization_id
      LEFT JOIN paypal_mock_captures c ON c.authorization_id = a.id
     WHERE t.payment_method = 'paypal' AND t.state IN ('refunded', 'cancelled', 'expired')
       AND (CASE WHEN c.id IS NULL THEN a.status <> 'VOIDED' ELSE c.refunded_cents <> c.amount_cents END)`,
  // A split refunds exactly the traveler's part; a completed trade refunds nothing.
  paypal_refund_amount: `
    SELECT t.id, t.state, coalesce(c.refunded_cents, 0)::text AS refunded FROM trades t JOIN trade_fundings f ON f.trade_id = t.id
      JOIN paypal_mock_captures c ON c.authorization_id = f.authorization_id
     WHERE t.state IN ('completed', 'settled_split')
       AND c.refunded_cents <> CASE t.state WHEN 'completed' THEN 0 ELSE t.split_traveler_usd END`,
  // Bank: never more returned from a transfer than it brought; one refund of a trade per attempt.
  bank_returns_exceed_transfer: `
    SELECT i.id, i.amount_cents::text, sum(r.amount_cents)::text AS returned FROM bank_mock_transfers i
      JOIN bank_mock_transfers r ON r.returns_transfer_id = i.id AND r.status <> 'failed'
     GROUP BY i.id, i.amount_cents HAVING sum(r.amount_cents) > i.amount_cents`,
  bank_refund_amount: `
    SELECT t.id, t.state, coalesce(sum(r.amount_cents), 0)::text AS returned FROM trades t
      LEFT JOIN bank_mock_transfers r ON r.direction = 'return' AND r.idempotency_key LIKE 'yb-' || t.id || '-refund%' AND r.status <> 'failed'
     WHERE t.payment_method = 'bank_transfer' AND t.state IN ('completed', 'refunded', 'settled_split')
     GROUP BY t.id HAVING coalesce(sum(r.amount_cents), 0) <> CASE t.state
       WHEN 'refunded' THEN max(t.amount_usd) WHEN 'settled_split' THEN max(t.split_traveler_usd) ELSE 0 END`,
  // Money the bank received for a trade beyond what funded it went back (suspense returned), once.
  bank_suspense_kept: `
    SELECT transfer_id, suspense_usd::text FROM bank_incoming_transfers
     WHERE suspense_usd > 0 AND returned_at IS NULL`,
  // WeChat: a transfer settles one trade at most.
  wechat_transfer_twice: `SELECT wechat_transfer_id, count(*)::int AS n FROM trades WHERE wechat_transfer_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1`,
  // Nothing comes back after the end in these scripts: an ended trade flagged for operators, or with a settlement
  // step (not a watch) still open, is a false alarm left by a run that died.
  ended_and_flagged: `SELECT id, state FROM trades WHERE settlement_failing AND state IN ('completed', 'refunded', 'settled_split', 'cancelled', 'expired')`,
  ended_with_open_step: `
    SELECT s.trade_id, t.state, s.step, s.status FROM settlement_steps s JOIN trades t ON t.id = s.trade_id
     WHERE s.status <> 'done' AND s.step NOT IN ('watch_payout', 'watch_bank_return')
       AND t.state IN ('completed', 'refunded', 'settled_split', 'cancelled', 'expired')`,
  // Settlement claims: none left past its lease on a trade that still has settlement work (a dead run's claim must
  // not hold its trade up). A killed run's claim on a trade that has ended is inert: claim() treats a lapsed claim as
  // none; those are counted (inertClaims), not failed.
  orphaned_claim: `
    SELECT f.trade_id, t.state, f.settlement_claimed_until FROM trade_fundings f JOIN trades t ON t.id = f.trade_id
     WHERE f.settlement_claim IS NOT NULL AND f.settlement_claimed_until < now()
       AND (t.state IN ('releasing', 'refunding', 'splitting') OR t.settlement_failing
            OR EXISTS (SELECT 1 FROM settlement_steps s WHERE s.trade_id = t.id AND s.status <> 'done'))`,
};

export type ProviderViolations = Record<string, unknown[]>;

export async function providerViolations(db: Client): Promise<ProviderViolations> {
  const found: ProviderViolations = {};
  for (const [name, sql] of Object.entries(CHECKS)) {
    const { rows } = await db.query(sql);
    if (rows.length > 0) found[name] = rows.slice(0, 10);
  }
  return found;
}

/** Lapsed claims of killed runs on trades with nothing left to settle. */
export async function inertClaims(db: Client): Promise<number> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS n FROM trade_fundings WHERE settlement_claim IS NOT NULL AND settlement_claimed_until < now()`,
  );
  return rows[0].n;
}

/** Trades neither ended nor settling with operators told: stuck without anyone knowing. */
export async function silentlyStuck(db: Client): Promise<{ id: string; state: string; settlement_failing: boolean }[]> {
  const { rows } = await db.query(
    `SELECT id, state, settlement_failing FROM trades
      WHERE state NOT IN ('completed', 'refunded', 'settled_split', 'cancelled', 'expired')
        AND NOT (state IN ('releasing', 'refunding', 'splitting') AND settlement_failing)
      ORDER BY created_at`,
  );
  return rows;
}
