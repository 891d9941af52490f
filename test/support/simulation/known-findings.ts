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

// None open: each the simulation found was fixed, and fails the run again if it comes back.
export const KNOWN_FINDINGS: readonly KnownFinding[] = [];

export function knownFinding(violation: string, model: Model): KnownFinding | undefined {
  return KNOWN_FINDINGS.find((finding) => finding.matches(violation, model));
}
