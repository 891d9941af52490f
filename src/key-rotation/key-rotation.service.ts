import type { DataSource } from 'typeorm';
import { FieldDecryptionError, FieldEncryption } from '../common/crypto/field-encryption';
import { ENCRYPTED_COLUMNS, EncryptedColumn } from './encrypted-columns';
import { KeyRotationRepository, Rewrite } from './key-rotation.repository';
import { columnLabel, DEFAULT_BATCH_SIZE, rotatedValue } from './key-rotation';

export interface RotationOptions {
  batchSize?: number;
  /** Stop after this many batches in all; the next run goes on from where the values still are. */
  maxBatches?: number;
  /** Progress lines: counts only, never values. */
  print?: (line: string) => void;
  /** Called inside each batch's transaction with its rows locked (by primary key), before they are written (tests). */
  whileLocked?: (column: string, ids: unknown[][]) => Promise<void>;
}

export interface RotationResult {
  rotated: number;
  /** Values that could not be decrypted (their key is gone, or they were tampered with): left as they are. */
  failed: number;
  /** Values changed by the service between the read and the write: left for the next run. */
  changed: number;
  /** Whether the run stopped at `maxBatches` before the end. */
  stopped: boolean;
}

export interface ColumnKeyCount {
  column: string;
  /** Values by encryption key id. */
  encryption: Record<string, number>;
  /** Blind indexes by blind index key id; null when the column has none. */
  blindIndex: Record<string, number> | null;
  /** Values not under the active keys (either encryption or blind index). */
  stale: number;
}

/**
 * Re-encrypts every value of ENCRYPTED_COLUMNS under the active key and recomputes blind indexes under the
 * active blind index key, in batches while the service runs; safe to stop at any point and run again.
 */
export class KeyRotation {
  private readonly repository: KeyRotationRepository;

  constructor(
    dataSource: DataSource,
    private readonly encryption: FieldEncryption,
    private readonly columns: readonly EncryptedColumn[] = ENCRYPTED_COLUMNS,
  ) {
    this.repository = new KeyRotationRepository(dataSource);
  }

  async rotate(options: RotationOptions = {}): Promise<RotationResult> {
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    const print = options.print ?? (() => undefined);
    const active = this.encryption.activeKeyIds;
    const result: RotationResult = { rotated: 0, failed: 0, changed: 0, stopped: false };
    let batches = 0;
    for (const column of this.columns) {
      const label = columnLabel(column);
      let after: unknown[] | undefined;
      let rotated = 0;
      for (;;) {
        if (options.maxBatches !== undefined && batches >= options.maxBatches) {
          result.stopped = true;
          print(`Stopped after ${batches} batch(es): run again to go on.`);
          return result;
        }
        let failed = 0;
        const batch = await this.repository.rotateBatch(column, active, batchSize, after, async (rows) => {
          const rewrites: Rewrite[] = [];
          for (const row of rows) {
            try {
              const next = rotatedValue(this.encryption, column, row.value);
              if (next) rewrites.push({ row, next });
            } catch (error) {
              if (!(error instanceof FieldDecryptionError)) throw error;
              failed += 1;
            }
          }
          await options.whileLocked?.(
            label,
            rows.map((row) => row.id),
          );
          return rewrites;
        });
        if (batch.locked === 0) break;
        batches += 1;
        after = batch.last;
        rotated += batch.rotated;
        result.rotated += batch.rotated;
        result.failed += failed;
        result.changed += batch.changed;
        print(`${label}: ${rotated} rotated${failed ? `, ${failed} could not be decrypted in this batch` : ''}`);
      }
    }
    return result;
  }

  /** How many values each key id holds, per column. */
  async check(): Promise<ColumnKeyCount[]> {
    const active = this.encryption.activeKeyIds;
    const counts: ColumnKeyCount[] = [];
    for (const column of this.columns) {
      const { encryption, blindIndex } = await this.repository.countByKeyId(column);
      counts.push({
        column: columnLabel(column),
        encryption: Object.fromEntries(encryption),
        blindIndex: blindIndex && Object.fromEntries(blindIndex),
        stale: await this.repository.countStale(column, active),
      });
    }
    return counts;
  }
}
