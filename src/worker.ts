import 'reflect-metadata';
import { DiscoveryService, NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { serveMetrics } from './bootstrap/metrics-server';
import { describeWorkers } from './bootstrap/start-lines';
import { boundShutdown, exitOnStartFailure, explainListenFailure } from './bootstrap/start-failure';
import { loadAppConfig, loadDatabaseConfig, loadOperationsConfig, loadRedisConfig, validateAllConfig } from './config';
import { describeDatabase, preflight } from './database/preflight';
import { QuietFrameworkLogger } from './logging';
import { startedWorkers } from './queues/started-workers';

/**
 * Workers only: BullMQ processors and the outbox relay, no HTTP. On SIGTERM Nest's shutdown hooks
 * stop the relay and close the workers, which wait for their active jobs to finish.
 */
async function main(): Promise<void> {
  validateAllConfig();
  const database = await preflight(loadDatabaseConfig(), loadRedisConfig());
  const app = await NestFactory.createApplicationContext(AppModule.register({ workers: true }), { bufferLogs: true });
  const logger = app.get(Logger);
  app.useLogger(new QuietFrameworkLogger(logger));
  app.enableShutdownHooks();
  logger.log({ msg: describeDatabase(database), start: database }, 'Start');
  const config = loadAppConfig();
  boundShutdown(config.shutdownTimeoutMs);
  await app.init();
  const metricsPort = config.workerMetricsPort;
  const metrics =
    metricsPort > 0
      ? await serveMetrics({ host: config.host, port: metricsPort, token: loadOperationsConfig().metricsToken }).catch((error: unknown) => {
          throw explainListenFailure(error, 'WORKER_METRICS_PORT', config.host, metricsPort);
        })
      : undefined;
  const { msg, ...workers } = describeWorkers(startedWorkers(app.get(DiscoveryService)), true);
  logger.log({ msg: `Yuanbridge worker running. ${msg}`, start: { ...workers, metricsPort: metrics?.port ?? null } }, 'Start');
}

main().catch(exitOnStartFailure);
