import type { DataSource } from 'typeorm';
import type { FieldEncryption } from '../common/crypto/field-encryption';
import { ColumnKeyCount, KeyRotation, RotationOptions } from './key-rotation.service';
import { parseRotateKeysArgs, ROTATE_KEYS_USAGE } from './key-rotation';

export interface CommandOutput {
  out(line: string): void;
  err(line: string): void;
}

function describe(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? 'none' : entries.map(([keyId, n]) => `${keyId} ${n}`).join(', ');
}

export function formatCounts(count: ColumnKeyCount): string {
  const index = count.blindIndex ? `; blind indexes: ${describe(count.blindIndex)}` : '';
  return `${count.column}: values: ${describe(count.encryption)}${index}; to rotate: ${count.stale}`;
}

/**
 * `npm run cli -- rotate-keys [--batch-size N] [--max-batches N]`: re-encrypts and re-indexes every value not
 * under the active keys; exits 0 when none is left, 1 when some are (stopped early, rows the service held,
 * values that cannot be decrypted): run it again.
 * `rotate-keys --check [--strict]`: how many values each key id holds, per column; exits 0, or with
 * `--strict` 1 when any value is not under the active keys. Exit 2: bad arguments. Never prints a value.
 */
export async function rotateKeysCommand(
  deps: { dataSource: DataSource; encryption: FieldEncryption },
  argv: readonly string[],
  output: CommandOutput,
  hooks: Pick<RotationOptions, 'whileLocked'> = {},
): Promise<number> {
  let args;
  try {
    args = parseRotateKeysArgs(argv);
  } catch (error) {
    output.err(`${(error as Error).message}\nUsage: ${ROTATE_KEYS_USAGE}`);
    return 2;
  }
  const rotation = new KeyRotation(deps.dataSource, deps.encryption);
  const active = deps.encryption.activeKeyIds;
  output.out(`Active keys: encryption "${active.encryption}", blind index "${active.blindIndex}"`);
  if (!args.check) {
    const result = await rotation.rotate({ batchSize: args.batchSize, maxBatches: args.maxBatches, print: output.out, ...hooks });
    output.out(`Rotated ${result.rotated} value(s).`);
    if (result.failed > 0) output.err(`${result.failed} value(s) could not be decrypted (unknown key id or tampered): left as they are.`);
  }
  const counts = await rotation.check();
  for (const count of counts) output.out(formatCounts(count));
  const stale = counts.reduce((sum, c) => sum + c.stale, 0);
  output.out(
    stale === 0
      ? 'Every value is under the active keys.'
      : `${stale} value(s) not under the active keys${args.check ? '' : ': run rotate-keys again'}.`,
  );
  if (args.check) return args.strict && stale > 0 ? 1 : 0;
  return stale === 0 ? 0 : 1;
}
