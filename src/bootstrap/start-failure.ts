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

/** Nest's shutdown hooks drain on SIGTERM; this bounds the drain so a stuck job cannot keep the process forever. */
export function boundShutdown(timeoutMs: number): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      setTimeout(() => {
        process.stderr.write(`Shutdown took longer than ${timeoutMs} ms; exiting\n`);
        process.exit(1);
      }, timeoutMs).unref();
    });
  }
}
