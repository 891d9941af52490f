import { registerAs } from '@nestjs/config';
import { EnvReader, isProduction } from './env';

export interface AppConfig {
  env: 'development' | 'test' | 'production';
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
  shutdownTimeoutMs: number;
  /** Where the standalone worker serves /metrics; 0 turns it off. */
  workerMetricsPort: number;
}

export function loadAppConfig(env = process.env): AppConfig {
  const read = new EnvReader(env);
  const production = isProduction(env);
  const config: AppConfig = {
    env: read.oneOf('NODE_ENV', ['development', 'test', 'production'] as const, 'development'),
    production,
    sandbox: read.bool('SANDBOX_MODE', !production),
    host: read.string('HOST', '0.0.0.0'),
    port: read.int('PORT', 3000, { min: 0, max: 65535 }),
    runWorkers: read.bool('RUN_WORKERS', true),
    corsOrigins: read.list('CORS_ORIGINS'),
    bodyLimitBytes: read.int('BODY_LIMIT_BYTES', 65536, { min: 1024, max: 10 * 1024 * 1024 }),
    logLevel: read.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    logFile: read.optionalString('LOG_FILE'),
    shutdownTimeoutMs: read.int('SHUTDOWN_TIMEOUT_MS', 10000, { min: 0 }),
    workerMetricsPort: read.int('WORKER_METRICS_PORT', 9464, { min: 0, max: 65535 }),
  };
  if (production && config.sandbox) read.fail('SANDBOX_MODE cannot be on in production');
  return read.done(config);
}

export const appConfig = registerAs('app', () => loadAppConfig());
