/**
 * The one definition of "money of this trade is still owed to or by someone", as a SQL condition on the trade
 * aliased `t`: true while any of these holds.
 *
 * - `settlement_failing`: the trade is flagged for operators (a step waited past its bound, or reconciliation
 *   found a mismatch).
 * - A settlement step not done (`settlement_steps`, migration 17): a provider step running, waiting or failing, or
 *   an after-the-end watch (`watch_payout`, `watch_bank_return`) still open.
 * - A settlement run holding its claim on the funding row (`settlement_claimed_until` in the future).
 * - A payout or bank refund that came back (`payout_returned`, `refund_returned`), waiting on an operator's retry.
 * - Bank money held in suspense and not given back (`bank_incoming_transfers`): no return settled yet (pending or
 *   refused), or a return that settled and then bounced.
 * - An open reconciliation mismatch of the trade, or the trade on reconciliation's watch list (migration 18), its
 *   provider outcome not final yet.
 *
 * The account deletion refuses while any trade of the user owes money; the handle retention keeps a trade's
 * payment handle snapshots while it does (each of these may still need a handle, or an operator's reveal of it).
 */
export function moneyOwedSql(trade = 't'): string {
  return `(${trade}.settlement_failing
    OR EXISTS (SELECT 1 FROM settlement_steps s WHERE s.trade_id = ${trade}.id AND s.status <> 'done')
    OR EXISTS (SELECT 1 FROM trade_fundings f WHERE f.trade_id = ${trade}.id
                AND (f.payout_returned OR f.refund_returned OR f.settlement_claimed_until > now()))
    OR EXISTS (SELECT 1 FROM bank_incoming_transfers b WHERE b.trade_id = ${trade}.id
                AND b.suspense_usd > 0 AND (b.returned_at IS NULL OR b.bounced_at IS NOT NULL))
    OR EXISTS (SELECT 1 FROM reconciliation_mismatches m WHERE m.trade_id = ${trade}.id AND m.resolved_at IS NULL)
    OR EXISTS (SELECT 1 FROM reconciliation_watch w WHERE w.trade_id = ${trade}.id AND w.until > now()))`;
}
