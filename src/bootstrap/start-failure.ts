import { ConfigError } from '../config';
import { PreflightError } from '../database/preflight';

/** A port or address the process cannot take, said in one line naming the setting to change. */
export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
}

/** Turns the system's refusal to listen into a ListenError; any other error is returned as it is. */
export function explainListenFailure(error: unknown, setting: string, host: string, port: number): unknown {
  const code = (error as { code?: string } | undefined)?.code;
  if (code === 'EADDRINUSE')
    return new ListenError(
      `Port ${port} is in use on ${host}: set ${setting}=<a free port> (e.g. ${setting}=${port + 1}), or stop what is using it.`,
    );
  if (code === 'EACCES') return new ListenError(`Port ${port} on ${host} needs privileges: set ${setting} to a port above 1023.`);
  if (code === 'EADDRNOTAVAIL')
    return new ListenError(`${host} is not an address of this machine: set HOST (127.0.0.1, or 0.0.0.0 for every interface).`);
  return error;
}

/** A known start-up problem is one clear line (or a list of bad settings), never a stack trace. */
export function exitOnStartFailure(error: unknown): never {
  if (error instanceof ConfigError || error instanceof PreflightError || error instanceof ListenError) {
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
