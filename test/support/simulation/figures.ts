/** What a simulation run did, counted for its report (docs/RELIABILITY.md quotes them). */
export interface Figures {
  seed: number;
  sequences: number;
  steps: number;
  trades: number;
  actions: Record<string, number>;
  faults: Record<string, number>;
  /** The end state of every trade at the end of its sequence. */
  endStates: Record<string, number>;
  violations: { seed: number; sequence: number; detail: string[] }[];
  /** Known findings (known-findings.ts) seen, by name. */
  known: Record<string, number>;
  startedAt: number;
}

export function newFigures(seed: number): Figures {
  return {
    seed,
    sequences: 0,
    steps: 0,
    trades: 0,
    actions: {},
    faults: {},
    endStates: {},
    violations: [],
    known: {},
    startedAt: Date.now(),
  };
}

export function count(table: Record<string, number>, key: string, by = 1): void {
  table[key] = (table[key] ?? 0) + by;
}

export function summary(figures: Figures): string {
  const minutes = ((Date.now() - figures.startedAt) / 60000).toFixed(1);
  const line = (table: Record<string, number>) =>
    Object.entries(table)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  return [
    `simulation seed ${figures.seed}: ${figures.sequences} sequences, ${figures.steps} steps, ${figures.trades} trades in ${minutes} min`,
    `  actions: ${line(figures.actions)}`,
    `  faults: ${line(figures.faults) || 'none'}`,
    `  trades ended: ${line(figures.endStates)}`,
    `  known findings: ${line(figures.known) || 'none'}`,
    `  violations: ${figures.violations.length === 0 ? 'none' : figures.violations.map((v) => `[sequence ${v.sequence}] ${v.detail.join('; ')}`).join(' | ')}`,
  ].join('\n');
}
