import type { LoggerService } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import pino, { type DestinationStream } from 'pino';
import type { Options } from 'pino-http';
import type { AppConfig } from './config';

/**
 * Paths pino censors wherever they appear in a log object. Bodies are never logged by the request
 * logger; these catch values that code logs explicitly.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.accessToken',
  '*.token',
  '*.apiKey',
  '*.key',
  '*.secret',
  '*.wechatId',
  '*.paypalEmail',
  '*.travelerWechatId',
  '*.parameters',
  '*.driverError',
  'password',
  'accessToken',
  'wechatId',
  'paypalEmail',
];

export function loggerOptions(config: AppConfig): Options {
  return {
    level: config.logLevel,
    // Fastify assigned the id (from a valid X-Request-Id, or a new UUID); the request log uses the same one.
    genReqId: (req: IncomingMessage) => (req as IncomingMessage & { id?: string }).id ?? 'unknown',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: {
      // Query strings are dropped: filters may hold personal data.
      req: (req: IncomingMessage & { id?: string }) => ({ id: req.id, method: req.method, url: req.url?.split('?')[0] }),
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
  };
}

/**
 * Where pino writes: LOG_FILE when set, readable lines when LOG_PRETTY is on and pino-pretty (a development
 * dependency) is installed, else stdout as JSON. Without pino-pretty, one warning says so and JSON goes on.
 */
export function logDestination(config: AppConfig, load: (name: string) => unknown = require): DestinationStream | undefined {
  if (config.logFile) return pino.destination({ dest: config.logFile, sync: true });
  if (!config.logPretty) return undefined;
  try {
    const pretty = load('pino-pretty') as (options: Record<string, unknown>) => DestinationStream;
    return pretty({
      colorize: process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      // The start lines' structured details (`start`) repeat their message.
      ignore: 'pid,hostname,context,start',
      messageFormat: '{if context}{context}: {end}{msg}',
      // Synchronous: a start failure's exit must not lose the lines before it.
      sync: true,
    });
  } catch {
    process.stderr.write('LOG_PRETTY is set but pino-pretty is not installed (npm install --include=dev): logging JSON\n');
    return undefined;
  }
}

/** Nest's own start-up chatter: one line per module and per route, useful only when debugging the wiring. */
const FRAMEWORK_CONTEXTS = new Set([
  'NestFactory',
  'NestApplication',
  'NestApplicationContext',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestMicroservice',
]);

/**
 * The application's logger with Nest's route tables and module lines moved to debug, so a default start shows
 * only what the service says about itself (database, workers, where it listens).
 */
export class QuietFrameworkLogger implements LoggerService {
  constructor(private readonly inner: LoggerService) {}

  log(message: unknown, ...params: unknown[]): void {
    const context = params[params.length - 1];
    if (typeof context === 'string' && FRAMEWORK_CONTEXTS.has(context)) this.inner.debug?.(message, ...params);
    else this.inner.log(message, ...params);
  }

  error(message: unknown, ...params: unknown[]): void {
    // Nest logs a failed listen before rejecting with it; the start failure's own line says it better.
    if (params[params.length - 1] === 'NestApplication' && typeof message === 'string' && message.startsWith('Error: listen '))
      this.inner.debug?.(message, ...params);
    else this.inner.error(message, ...params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.inner.warn(message, ...params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.inner.debug?.(message, ...params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.inner.verbose?.(message, ...params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    (this.inner.fatal ?? this.inner.error).call(this.inner, message, ...params);
  }
}
