import 'reflect-metadata';
import { DiscoveryService } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { createApp } from './bootstrap/create-app';
import { describeListening, describeWorkers } from './bootstrap/start-lines';
import { boundShutdown, exitOnStartFailure, explainListenFailure } from './bootstrap/start-failure';
import { loadAppConfig, loadDatabaseConfig, loadOperationsConfig, loadRedisConfig, validateAllConfig } from './config';
import { describeDatabase, preflight } from './database/preflight';
import { startedWorkers } from './queues/started-workers';

async function main(): Promise<void> {
  const startedAt = process.hrtime.bigint();
  validateAllConfig();
  const config = loadAppConfig();
  // Creates the database if missing, migrates, and checks Redis, failing in seconds with one clear line.
  const database = await preflight(loadDatabaseConfig(), loadRedisConfig());
  const app = await createApp({ workers: config.runWorkers });
  const logger = app.get(Logger);
  logger.log({ msg: describeDatabase(database), start: database }, 'Start');
  boundShutdown(config.shutdownTimeoutMs);
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    throw explainListenFailure(error, 'PORT', config.host, config.port);
  }
  const { msg: workersLine, ...workers } = describeWorkers(startedWorkers(app.get(DiscoveryService)), config.runWorkers);
  logger.log({ msg: workersLine, start: workers }, 'Start');
  const { msg, url, ...links } = await describeListening(app, { docs: loadOperationsConfig().docsEnabled, sandbox: config.sandbox });
  const startupMs = Number((process.hrtime.bigint() - startedAt) / 1_000_000n);
  logger.log({ msg, url, start: { ...links, workers: config.runWorkers, startupMs } }, 'Start');
}

main().catch(exitOnStartFailure);
