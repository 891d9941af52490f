import type { LoggerService } from '@nestjs/common';
import { logDestination, QuietFrameworkLogger } from './logging';
import { loadAppConfig } from './config';

function recorder() {
  const calls: [string, unknown, ...unknown[]][] = [];
  const inner: LoggerService = {
    log: (message, ...params) => calls.push(['log', message, ...params]),
    error: (message, ...params) => calls.push(['error', message, ...params]),
    warn: (message, ...params) => calls.push(['warn', message, ...params]),
    debug: (message, ...params) => calls.push(['debug', message, ...params]),
  };
  return { calls, logger: new QuietFrameworkLogger(inner) };
}

describe('QuietFrameworkLogger', () => {
  it("moves Nest's module and route lines to debug and keeps the service's own lines", () => {
    const { calls, logger } = recorder();
    logger.log('Mapped {/v1/offers, GET} route', 'RouterExplorer');
    logger.log('AppModule dependencies initialized', 'InstanceLoader');
    logger.log('Nest application successfully started', 'NestApplication');
    logger.log('Outbox relay stopped', 'OutboxRelay');
    logger.error('Error: listen EADDRINUSE: address already in use 127.0.0.1:3000', 'NestApplication');
    logger.error('Error: something else', 'NestApplication');
    expect(calls.map(([level, , context]) => `${level} ${String(context)}`)).toEqual([
      'debug RouterExplorer',
      'debug InstanceLoader',
      'debug NestApplication',
      'log OutboxRelay',
      'debug NestApplication',
      'error NestApplication',
    ]);
  });
});

describe('logDestination', () => {
  it('falls back to JSON on stdout, with one warning, when LOG_PRETTY is on and pino-pretty is missing', () => {
    const warn = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const missing = () => {
        throw Object.assign(new Error("Cannot find module 'pino-pretty'"), { code: 'MODULE_NOT_FOUND' });
      };
      expect(logDestination(loadAppConfig({ LOG_PRETTY: '1' }), missing)).toBeUndefined();
      expect(warn.mock.calls.map(([text]) => String(text))).toEqual([
        expect.stringMatching(/^LOG_PRETTY is set but pino-pretty is not installed/),
      ]);
      expect(logDestination(loadAppConfig({}), missing)).toBeUndefined();
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      warn.mockRestore();
    }
  });
});
