import { count } from './figures';
import { clearAllFaults } from './fault-actions';
import { flagViolations, stepViolations } from './invariants';
import { isSettling, isTerminal, type Model, type Sim, type SimTrade } from './model';
import { call, refresh, sleep } from './world';

/** How long a sequence's trades get, once faults are cleared, to end or wait on an operator. */
const SETTLE_MS = 60000;
const RECONCILIATION_MS = 30000;

/** At rest: ended, waiting on an operator (a dispute), or settling and flagged for operators. */
function atRest(trade: SimTrade): boolean {
  return isTerminal(trade.state) || trade.state === 'disputed' || (isSettling(trade.state) && trade.settlementFailing);
}

/**
 * The end of a sequence: faults cleared, every flagged settlement retried once by an operator, and a bounded
 * wait for every trade to come to rest. Returns what did not, and every other violation found then.
 */
export async function settle(sim: Sim, model: Model): Promise<string[]> {
  await clearAllFaults(sim, model);
  const retried = new Set<string>();
  let lastRetryAt = 0;
  const until = Date.now() + SETTLE_MS;
  for (;;) {
    await refresh(sim, model);
    for (const trade of model.trades.filter((t) => t.settlementFailing && isSettling(t.state) && !retried.has(t.id))) {
      retried.add(trade.id);
      lastRetryAt = Date.now();
      await call(sim, 'POST', `/v1/admin/trades/${trade.id}/retry-settlement`, { token: sim.operator.token });
    }
    const restless = model.trades.filter((t) => !atRest(t));
    // A retry is given a few seconds to go through (or to be flagged again) before the trades count as at rest.
    if (restless.length === 0 && Date.now() - lastRetryAt > 4000) break;
    if (Date.now() > until) {
      return restless.map((t) => `trade ${t.id} (#${t.n}) still ${t.state}, not flagged, ${SETTLE_MS / 1000} s after faults cleared`);
    }
    await sleep(250);
  }
  // The retried ones get their own moment, and whatever their watches do next is seen by the checks below.
  await sleep(1500);
  await refresh(sim, model);
  for (const trade of model.trades) count(sim.figures.endStates, trade.settlementFailing ? `${trade.state} (flagged)` : trade.state);
  const reconciliation = await reconciliationViolations(sim, model);
  // After reconciliation: a mismatch it opened is a reason for a flag.
  return [...(await stepViolations(sim, model)), ...reconciliation, ...(await flagViolations(sim, model))];
}

/**
 * Runs reconciliation on demand (when the service has it) and reads its open mismatches about this sequence's
 * trades and the platform's totals.
 */
export async function reconciliationViolations(sim: Sim, model: Model): Promise<string[]> {
  const before = await call(sim, 'GET', '/v1/admin/reconciliation', { token: sim.operator.token });
  if (before.status === 404) return [];
  const started = await call(sim, 'POST', '/v1/admin/reconciliation/run', { token: sim.operator.token });
  if (started.status !== 202) return [`reconciliation run answered ${started.status}: ${started.text.slice(0, 200)}`];
  const previous = before.body?.runId ?? 0;
  const until = Date.now() + RECONCILIATION_MS;
  let latest = before;
  while (!(latest.status === 200 && latest.body.runId > previous && latest.body.ranAt)) {
    if (Date.now() > until)
      return [`reconciliation did not finish a run within ${RECONCILIATION_MS / 1000} s${lastLogged(sim, /reconcil/i)}`];
    await sleep(250);
    latest = await call(sim, 'GET', '/v1/admin/reconciliation', { token: sim.operator.token });
  }
  const mine = new Set(model.trades.map((t) => t.id));
  return (
    (latest.body.mismatches as { tradeId?: string; kind: string; detail: string; provider: unknown }[])
      .filter((m) => !m.tradeId || mine.has(m.tradeId))
      // Named by what they are about, never by when they were seen: the next sequence is not blamed for them again.
      .map((m) => `reconciliation ${m.kind} ${m.tradeId ?? JSON.stringify(m.provider)}: ${m.detail}`)
  );
}

/** The service's last log line matching `pattern` (its error, usually), to say why something did not happen. */
function lastLogged(sim: Sim, pattern: RegExp): string {
  const line = sim.test
    .readLog()
    .split('\n')
    .filter((l) => pattern.test(l) && /"level":(40|50)/.test(l))
    .pop();
  return line ? ` (last logged: ${line.slice(0, 600)})` : '';
}
