import 'reflect-metadata';
import { Logger } from 'nestjs-pino';
import { createApp } from './bootstrap/create-app';
import { boundShutdown, exitOnStartFailure } from './bootstrap/start-failure';
import { loadAppConfig, loadDatabaseConfig, loadRedisConfig, validateAllConfig } from './config';
import { preflight } from './database/preflight';

async function main(): Promise<void> {
  const startedAt = process.hrtime.bigint();
  validateAllConfig();
  const config = loadAppConfig();
  // Creates the database if missing, migrates, and checks Redis, failing in seconds with one clear line.
  await preflight(loadDatabaseConfig(), loadRedisConfig());
  const app = await createApp({ workers: config.runWorkers });
  boundShutdown(config.shutdownTimeoutMs);
  await app.listen({ port: config.port, host: config.host });
  const startupMs = Number((process.hrtime.bigint() - startedAt) / 1_000_000n);
  app.get(Logger).log({ url: await app.getUrl(), workers: config.runWorkers, startupMs }, 'Yuanbridge API listening');
}

main().catch(exitOnStartFailure);
