import { ConfigError } from '../config';
import { PreflightError } from '../database/preflight';

/** A known start-up problem is one clear line (or a list of bad settings), never a stack trace. */
export function exitOnStartFailure(error: unknown): never {
  if (error instanceof ConfigError || error instanceof PreflightError) {
    process.stderr.write(`Yuanbridge cannot start. ${error.message}\n`);
  } else {
    process.stderr.write(`Yuanbridge failed to start: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exit(1);
}
