import type { LoggerService } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type DestinationStream, type Level, type Logger } from 'pino';
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

/**
 * The request a log line is written during, if any: lines written while serving a request carry its id, method
 * and path (the `req` serializer) through the logger's mixin, with no child logger built per request.
 */
export const requestLogContext = new AsyncLocalStorage<IncomingMessage>();

/** A 503 is load or a dependency down (service_busy, a stale reference), answered on purpose: a warning. */
export function requestLogLevel(statusCode: number, error?: unknown): Level {
  return statusCode === 503 ? 'warn' : error || statusCode >= 500 ? 'error' : statusCode >= 400 ? 'warn' : 'info';
}

export function loggerOptions(config: AppConfig): Options {
  return {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: {
      // Query strings are dropped: filters may hold personal data.
      req: (req: IncomingMessage & { id?: string }) => ({ id: req.id, method: req.method, url: req.url?.split('?')[0] }),
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
    },
    mixin: () => {
      const req = requestLogContext.getStore();
      return req ? { req } : {};
    },
    // The access line is written by `logRequest`, not by pino-http's middleware; the rule is the same.
    customLogLevel: (_req, res, error) => requestLogLevel(res.statusCode, error),
  };
}

/**
 * The access line of one answered request: its id, method, path without the query string, status code and
 * time in milliseconds. Nothing is built when the line's level is off.
 */
export function logRequest(log: Logger, req: IncomingMessage, res: ServerResponse, responseTime: number): void {
  const level = requestLogLevel(res.statusCode);
  if (!log.isLevelEnabled(level)) return;
  if (res.statusCode >= 500)
    log[level]({ req, res, err: new Error(`failed with status code ${res.statusCode}`), responseTime }, 'request errored');
  else log[level]({ req, res, responseTime }, 'request completed');
}

/** The access line of a request its client gave up on before the answer (which then is never sent). */
export function logRequestAborted(log: Logger, req: IncomingMessage): void {
  if (log.isLevelEnabled('info')) log.info({ req }, 'request aborted');
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
