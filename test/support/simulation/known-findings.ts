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
    // Money sent with a reference of no trade is learnt of only from the bank's callback (the funding poll asks
    // by the references of trades). With the callback lost (dropped, or its attempts spent while the bank was
    // faulted), it is never booked into suspense nor returned; reconciliation's search reports it, nothing takes it.
    name: 'orphan bank transfer whose callback was lost is never booked',
    matches: (violation, model) =>
      model.bankFaulted &&
      violation.startsWith('reconciliation bank_incoming_unknown_to_ledger {') &&
      [...model.orphanReferences].some((reference) => violation.includes(`"reference":"${reference}"`)),
  },
  {
    // A counterparty reported a transfer WeChat does not have (or of another amount); verification opened a
    // dispute, or a party did, and an operator resolved it. Reconciliation still holds the trade's WeChat
    // transfer as an open mismatch, for ever: the dispute's resolution is not taken as the answer to it.
    name: 'reconciliation keeps a resolved dispute’s bad WeChat report open',
    matches: (violation, model) =>
      violation.startsWith('reconciliation wechat_transfer_mismatch ') &&
      model.trades.some((t) => t.reportedBadTransfer && violation.includes(t.id)),
  },
];

export function knownFinding(violation: string, model: Model): KnownFinding | undefined {
  return KNOWN_FINDINGS.find((finding) => finding.matches(violation, model));
}
