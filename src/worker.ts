import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { boundShutdown, exitOnStartFailure } from './bootstrap/start-failure';
import { loadAppConfig, loadDatabaseConfig, loadRedisConfig, validateAllConfig } from './config';
import { preflight } from './database/preflight';

/**
 * Workers only: BullMQ processors and the outbox relay, no HTTP. On SIGTERM Nest's shutdown hooks
 * stop the relay and close the workers, which wait for their active jobs to finish.
 */
async function main(): Promise<void> {
  validateAllConfig();
  await preflight(loadDatabaseConfig(), loadRedisConfig());
  const app = await NestFactory.createApplicationContext(AppModule.register({ workers: true }), { bufferLogs: true });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  boundShutdown(loadAppConfig().shutdownTimeoutMs);
  await app.init();
  app.get(Logger).log('Yuanbridge worker running');
}

main().catch(exitOnStartFailure);
