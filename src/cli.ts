import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { exitOnStartFailure } from './bootstrap/start-failure';
import { CryptoModule } from './common/crypto/crypto.module';
import { DomainError } from './common/errors';
import { allConfigs, loadDatabaseConfig, loadRedisConfig } from './config';
import { FieldEncryption } from './common/crypto/field-encryption';
import { DatabaseModule } from './database/database.module';
import { ensureDatabaseExists, runMigrations } from './database/preflight';
import { rotateKeysCommand } from './key-rotation/rotate-keys.command';
import { RedisModule } from './redis/redis.module';
import { UsersModule } from './users/users.module';
import { UsersService } from './users/users.service';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, load: allConfigs, ignoreEnvFile: true }),
    DatabaseModule,
    RedisModule,
    CryptoModule,
    UsersModule,
  ],
})
class CliModule {}

const USAGE = `Usage:
  npm run cli -- migrate
  npm run cli -- create-operator <email> <password> [displayName]
  npm run cli -- rotate-keys [--batch-size N] [--max-batches N]
  npm run cli -- rotate-keys --check [--strict]
  npm run cli -- move-queue-keys [--dry-run | --delete]   (once, upgrading to per-queue hash tags: docs/SCALING.md)
  npm run openapi                      (writes openapi.json)
  npm run openapi:breaking -- [git-rev] (openapi.json against the one at git-rev, HEAD~1 by default)`;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const database = loadDatabaseConfig();
  switch (command) {
    case 'migrate': {
      await ensureDatabaseExists(database);
      const applied = await runMigrations(database);
      process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'Database is up to date.\n');
      return 0;
    }
    case 'create-operator': {
      const [email, password, displayName] = args;
      if (!email || !password) {
        process.stderr.write(`${USAGE}\n`);
        return 2;
      }
      if (password.length < 10) {
        process.stderr.write('The password must be at least 10 characters.\n');
        return 2;
      }
      await ensureDatabaseExists(database);
      await runMigrations(database);
      const app = await NestFactory.createApplicationContext(CliModule, { logger: ['error'] });
      try {
        const operator = await app.get(UsersService).createOperator(email, password, displayName);
        process.stdout.write(`Operator created: ${operator.id} ${operator.email}\n`);
        return 0;
      } catch (error) {
        if (error instanceof DomainError) {
          process.stderr.write(`${error.detail}\n`);
          return 1;
        }
        throw error;
      } finally {
        await app.close();
      }
    }
    case 'rotate-keys': {
      // Runs beside the service: the schema is the service's to migrate.
      const app = await NestFactory.createApplicationContext(CliModule, { logger: ['error'] });
      try {
        return await rotateKeysCommand({ dataSource: app.get(DataSource), encryption: app.get(FieldEncryption) }, args, {
          out: (line) => process.stdout.write(`${line}\n`),
          err: (line) => process.stderr.write(`${line}\n`),
        });
      } finally {
        await app.close();
      }
    }
    case 'move-queue-keys': {
      // Redis only: run with every process stopped, before the new version starts.
      const { moveQueueKeysCommand } = await import('./queues/move-queue-keys.command');
      return moveQueueKeysCommand(loadRedisConfig(), args, {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
      });
    }
    case 'openapi': {
      // Loaded here: the whole application is needed only for this command.
      const { generateOpenApi } = await import('./bootstrap/openapi/generate');
      const file = args[0] ?? 'openapi.json';
      await generateOpenApi(file);
      process.stdout.write(`Wrote ${file}\n`);
      return 0;
    }
    case 'openapi-breaking': {
      const { breakingCommand } = await import('./bootstrap/openapi/breaking-command');
      return breakingCommand(args, (line) => process.stdout.write(`${line}\n`));
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), exitOnStartFailure);
