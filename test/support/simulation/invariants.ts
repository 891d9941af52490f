import { liveCounterMismatches } from '../invariants';
import { count } from './figures';
import { knownFinding } from './known-findings';
import type { Model, Provider, Sim } from './model';

/**
 * The money invariants, each a list of violations as stable strings (the same fault reads the same after every
 * step, so a sequence is blamed only for what was not there before it began).
 */

/** GET /v1/admin/ledger/check as an operator: the books' own invariants. */
export async function ledgerViolations(sim: Sim): Promise<string[]> {
  const check = await sim.api('GET', '/v1/admin/ledger/check', { token: sim.operator.token });
  if (check.status !== 200) return [`ledger check answered ${check.status}: ${check.text.slice(0, 200)}`];
  return (check.body.violations as { invariant: string; tradeId?: string; detail: string }[]).map(
    (v) => `ledger ${v.invariant}${v.tradeId ? ` trade ${v.tradeId}` : ''}: ${v.detail}`,
  );
}

/** Each provider saw each money movement once, read from the mocks' own tables. */
export async function providerViolations(sim: Sim): Promise<string[]> {
  const rows = async (label: string, sql: string) =>
    (await sim.db.query(sql)).rows.map((r: Record<string, unknown>) => `${label} ${JSON.stringify(r)}`);
  return [
    ...(await rows(
      'paypal: more than one capture of an authorization, or more captured than authorized',
      `SELECT a.id, a.amount_cents, count(c.id)::int AS captures, sum(c.amount_cents)::text AS captured
         FROM paypal_mock_authorizations a JOIN paypal_mock_captures c ON c.authorization_id = a.id
        GROUP BY a.id HAVING count(c.id) > 1 OR sum(c.amount_cents) > a.amount_cents`,
    )),
    ...(await rows(
      'paypal: refunds of a capture beyond it',
      `SELECT c.id, c.amount_cents, sum(r.amount_cents)::text AS refunded
         FROM paypal_mock_captures c JOIN paypal_mock_refunds r ON r.capture_id = c.id
        GROUP BY c.id HAVING sum(r.amount_cents) > c.amount_cents`,
    )),
    ...(await rows(
      'paypal: more than one payout batch for a sender_batch_id',
      `SELECT sender_batch_id, count(*)::int FROM paypal_mock_payout_batches GROUP BY 1 HAVING count(*) > 1`,
    )),
    // A payout that came back (returned, failed) may be sent again; two that did not are a double payment.
    ...(await rows(
      'paypal: a trade paid out more than once, or more than its net',
      `SELECT t.id, (t.amount_usd - t.fee_usd)::text AS net, count(*)::int AS payouts, sum(i.amount_cents)::text AS paid
         FROM paypal_mock_payout_items i JOIN trades t ON i.sender_item_id LIKE 'yb-' || t.id || '-payout%'
        WHERE i.status IN ('PENDING', 'SUCCESS', 'UNCLAIMED')
        GROUP BY t.id HAVING count(*) > 1 OR sum(i.amount_cents) > t.amount_usd - t.fee_usd`,
    )),
    ...(await rows(
      'bank: returns of a transfer beyond it',
      `SELECT i.id, i.amount_cents, sum(r.amount_cents)::text AS returned
         FROM bank_mock_transfers i JOIN bank_mock_transfers r ON r.returns_transfer_id = i.id
        WHERE r.status IN ('pending', 'settled')
        GROUP BY i.id HAVING sum(r.amount_cents) > i.amount_cents`,
    )),
    ...(await rows(
      'wechat: one transfer claimed by more than one trade',
      `SELECT wechat_transfer_id, count(*)::int FROM trades WHERE wechat_transfer_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1`,
    )),
  ];
}

export async function counterViolations(sim: Sim): Promise<string[]> {
  return (await liveCounterMismatches(sim.db)).map((m) => `live-trade counter of ${m.user_id}: kept ${m.kept}, counted ${m.counted}`);
}

/**
 * No live trade is past its deadline by more than the sweep period (and a poll's worth of slack), unless the
 * provider the deadline waits on is failing or was a moment ago: SPEC.md extends those deadlines by the outage.
 */
export async function deadlineViolations(sim: Sim, model: Model): Promise<string[]> {
  const slackMs = sim.sweepMs + 3000;
  const excused = await excusedProviders(sim, model, slackMs);
  const checks: { column: string; state: string; provider: (method: string) => Provider }[] = [
    { column: 'funding_by', state: 'awaiting_funding', provider: (method) => (method === 'paypal' ? 'paypal' : 'bank') },
    { column: 'payout_by', state: 'funded', provider: () => 'wechat' },
    { column: 'verify_by', state: 'payout_sent', provider: () => 'wechat' },
  ];
  const found: string[] = [];
  for (const { column, state, provider } of checks) {
    const late = await sim.db.query(
      `SELECT id, payment_method FROM trades WHERE state = $1 AND ${column} < now() - make_interval(secs => $2::float / 1000)`,
      [state, slackMs],
    );
    for (const row of late.rows as { id: string; payment_method: string }[]) {
      if (!excused.has(provider(row.payment_method))) found.push(`deadline ${column} of trade ${row.id} passed while ${state}`);
    }
  }
  return found;
}

async function excusedProviders(sim: Sim, model: Model, slackMs: number): Promise<Set<Provider>> {
  const excused = new Set<Provider>(model.failing);
  for (const [provider, at] of model.failingClearedAt) if (Date.now() - at < 2 * slackMs) excused.add(provider);
  const health = await sim.db.query(
    `SELECT provider FROM provider_health WHERE consecutive_failures > 0 OR down_since IS NOT NULL OR recovering_at IS NOT NULL`,
  );
  for (const row of health.rows as { provider: Provider }[]) excused.add(row.provider);
  return excused;
}

/**
 * An ended trade shown to operators as failing has a reason they can act on: a payout or refund that came back, a
 * payable still open in the books, or an open reconciliation mismatch. A flag with none of these is a ghost.
 */
export async function flagViolations(sim: Sim, model: Model): Promise<string[]> {
  const ghosts = await sim.db.query(
    `SELECT t.id, t.state FROM trades t
      WHERE t.id = ANY($1::uuid[]) AND t.settlement_failing AND t.state IN ('completed', 'refunded', 'settled_split')
        AND NOT EXISTS (SELECT 1 FROM trade_fundings f WHERE f.trade_id = t.id AND (f.payout_returned OR f.refund_returned))
        AND NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.trade_id = t.id
                         AND a.kind IN ('counterparty_payable', 'traveler_refund_payable') AND a.credits_posted <> a.debits_posted)
        AND NOT EXISTS (SELECT 1 FROM reconciliation_mismatches m WHERE m.trade_id = t.id AND m.resolved_at IS NULL)`,
    [model.trades.map((t) => t.id)],
  );
  return ghosts.rows.map(
    (r: { id: string; state: string }) => `trade ${r.id} ${r.state} and flagged settlementFailing with nothing to act on`,
  );
}

/** Every invariant that holds after any step. */
export async function stepViolations(sim: Sim, model: Model): Promise<string[]> {
  // One after another: they share one database connection.
  const ledger = await ledgerViolations(sim);
  const providers = await providerViolations(sim);
  const counters = await counterViolations(sim);
  const deadlines = await deadlineViolations(sim, model);
  return [...ledger, ...providers, ...counters, ...deadlines, ...sim.serverErrors.map((e) => `API: ${e}`)];
}

/**
 * Throws with the violations a sequence caused (those present before it began are an earlier sequence's). Known
 * findings are counted and let through unless the run is strict. Whatever was seen joins the baseline.
 */
export function assertNoNew(sim: Sim, model: Model, violations: string[], where: string): void {
  const fresh = violations.filter((v) => !sim.baseline.has(v));
  for (const v of violations) sim.baseline.add(v);
  const failing = fresh.filter((v) => {
    const known = knownFinding(v, model);
    if (known) count(sim.figures.known, known.name);
    return sim.strict || !known;
  });
  if (failing.length === 0) return;
  throw new Error(`invariants violated ${where}:\n  ${failing.join('\n  ')}`);
}
