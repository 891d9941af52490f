import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { serveMetrics } from './bootstrap/metrics-server';
import { boundShutdown, exitOnStartFailure } from './bootstrap/start-failure';
import { loadAppConfig, loadDatabaseConfig, loadOperationsConfig, loadRedisConfig, validateAllConfig } from './config';
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
  const config = loadAppConfig();
  boundShutdown(config.shutdownTimeoutMs);
  await app.init();
  const metrics =
    config.workerMetricsPort > 0
      ? await serveMetrics({ host: config.host, port: config.workerMetricsPort, token: loadOperationsConfig().metricsToken })
      : undefined;
  app.get(Logger).log({ metricsPort: metrics?.port ?? null }, 'Yuanbridge worker running');
}

main().catch(exitOnStartFailure);
