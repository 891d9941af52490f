import 'reflect-metadata';
import { DiscoveryService } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { createApp } from './bootstrap/create-app';
import { describeSandboxListening, describeWorkers } from './bootstrap/start-lines';
import { boundShutdown, exitOnStartFailure, explainListenFailure } from './bootstrap/start-failure';
import {
  ConfigError,
  loadAppConfig,
  loadDatabaseConfig,
  loadRedisConfig,
  loadSandboxConfig,
  sandboxProcessEnv,
  validateAllConfig,
} from './config';
import { describeDatabase, preflight } from './database/preflight';
import { startedWorkers } from './queues/started-workers';
import { SandboxAppModule } from './sandbox-app.module';

/**
 * The provider mocks as their own process (`npm run start:sandbox`), on `SANDBOX_PORT`: the service reaches them
 * through its provider base URLs (`SANDBOX_MOCKS_URL`), they deliver their callbacks to `SANDBOX_SERVICE_URL`.
 * Their CPU is then theirs, not the service's, and with a database of their own so are their statements.
 */
async function main(): Promise<void> {
  const startedAt = process.hrtime.bigint();
  Object.assign(process.env, sandboxProcessEnv(process.env));
  validateAllConfig();
  const config = loadAppConfig();
  if (!config.sandbox) throw new ConfigError(['SANDBOX_MODE is off (or NODE_ENV=production): there are no mocks to serve']);
  const sandbox = loadSandboxConfig();
  const database = await preflight(loadDatabaseConfig(), loadRedisConfig());
  const app = await createApp({ workers: true, module: SandboxAppModule.register() });
  const logger = app.get(Logger);
  logger.log({ msg: describeDatabase(database), start: database }, 'Start');
  boundShutdown(config.shutdownTimeoutMs);
  try {
    await app.listen({ port: sandbox.port, host: config.host });
  } catch (error) {
    throw explainListenFailure(error, 'SANDBOX_PORT', config.host, sandbox.port);
  }
  const { msg: workersLine, ...workers } = describeWorkers(startedWorkers(app.get(DiscoveryService)), true);
  logger.log({ msg: workersLine, start: workers }, 'Start');
  const { msg, url, ...links } = await describeSandboxListening(app, { serviceUrl: sandbox.serviceUrl });
  const startupMs = Number((process.hrtime.bigint() - startedAt) / 1_000_000n);
  logger.log({ msg, url, start: { ...links, startupMs } }, 'Start');
}

main().catch(exitOnStartFailure);
