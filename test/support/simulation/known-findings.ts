import type { Model } from './model';

/**
 * Violations the simulation found whose fix is not local, described in docs/RELIABILITY.md with a reproduction.
 * They are counted, and fail the run only with SIM_STRICT=1, so the rest of the simulation keeps guarding CI.
 * Each matches narrowly: the same kind of violation in any other circumstance still fails.
 */
export interface KnownFinding {
  name: string;
  matches(violation: string, model: Model): boolean;
}

export const KNOWN_FINDINGS: readonly KnownFinding[] = [
  {
    // A counterparty reports a transfer WeChat does not have (or one a fen short) and the traveler confirms
    // receipt before verification disputes it: the trade completes on the traveler's word, and reconciliation's
    // WeChat check holds it as an open mismatch (and flags it) that nothing can close. Decided by an operator
    // through a dispute, it is taken as answered; on the traveler's word it is not.
    name: 'reconciliation keeps open a bad WeChat report the traveler confirmed',
    matches: (violation, model) =>
      violation.startsWith('reconciliation wechat_transfer_mismatch ') &&
      model.trades.some((t) => t.reportedBadTransfer && t.confirmedByTraveler && violation.includes(t.id)),
  },
];

export function knownFinding(violation: string, model: Model): KnownFinding | undefined {
  return KNOWN_FINDINGS.find((finding) => finding.matches(violation, model));
}
