import { registerAs } from '@nestjs/config';
import { environmentOf, Environment, EnvReader } from './env';

export interface AppConfig {
  env: Environment;
  production: boolean;
  /** Sandbox mode mounts the provider mocks; on unless NODE_ENV=production. */
  sandbox: boolean;
  host: string;
  port: number;
  /** Run BullMQ workers and the outbox relay inside the API process (one-command start). */
  runWorkers: boolean;
  corsOrigins: string[];
  bodyLimitBytes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** When set, logs go to this file instead of stdout (tests read it back). */
  logFile?: string;
  /** Readable lines for a person at a terminal (pino-pretty, a development tool) instead of JSON. */
  logPretty: boolean;
  shutdownTimeoutMs: number;
  /** Where the standalone worker serves /metrics; 0 turns it off. */
  workerMetricsPort: number;
}

export function loadAppConfig(env = process.env): AppConfig {
  const read = new EnvReader(env);
  const environment = environmentOf(env);
  const production = environment === 'production';
  const config: AppConfig = {
    env: environment,
    production,
    sandbox: read.bool('SANDBOX_MODE', !production),
    // A development machine's service (sandbox mocks, development secrets) is not for the network.
    host: read.string('HOST', environment === 'production' ? '0.0.0.0' : '127.0.0.1'),
    port: read.int('PORT', 3000, { min: 0, max: 65535 }),
    runWorkers: read.bool('RUN_WORKERS', true),
    corsOrigins: read.list('CORS_ORIGINS'),
    bodyLimitBytes: read.int('BODY_LIMIT_BYTES', 65536, { min: 1024, max: 10 * 1024 * 1024 }),
    logLevel: read.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    logFile: read.optionalString('LOG_FILE'),
    logPretty: read.bool('LOG_PRETTY', false),
    shutdownTimeoutMs: read.int('SHUTDOWN_TIMEOUT_MS', 10000, { min: 0 }),
    workerMetricsPort: read.int('WORKER_METRICS_PORT', 9464, { min: 0, max: 65535 }),
  };
  if (production && config.sandbox) read.fail('SANDBOX_MODE cannot be on in production');
  return read.done(config);
}

export const appConfig = registerAs('app', () => loadAppConfig());
