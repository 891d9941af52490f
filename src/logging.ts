import type { IncomingMessage, ServerResponse } from 'node:http';
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
