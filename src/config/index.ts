import { appConfig, loadAppConfig } from './app.config';
import { authConfig, loadAuthConfig } from './auth.config';
import { bankConfig, loadBankConfig } from './bank.config';
import { chatConfig, loadChatConfig } from './chat.config';
import { cryptoConfig, loadCryptoConfig } from './crypto.config';
import { databaseConfig, loadDatabaseConfig } from './database.config';
import { eventsConfig, loadEventsConfig } from './events.config';
import { httpConfig, loadHttpConfig } from './http.config';
import { jobsConfig, loadJobsConfig } from './jobs.config';
import { ConfigError } from './env';
import { loadMarketConfig, marketConfig } from './market.config';
import { loadOperationsConfig, operationsConfig } from './operations.config';
import { loadPaypalConfig, paypalConfig } from './paypal.config';
import { loadReconciliationConfig, reconciliationConfig } from './reconciliation.config';
import { loadRedisConfig, redisConfig } from './redis.config';
import { loadSandboxConfig, sandboxConfig } from './sandbox.config';
import { loadSignInConfig, signInConfig } from './sign-in.config';
import { loadTradesConfig, tradesConfig } from './trades.config';
import { loadWebhooksConfig, webhooksConfig } from './webhooks.config';
import { loadWechatConfig, wechatConfig } from './wechat.config';

export * from './app.config';
export * from './auth.config';
export * from './bank.config';
export * from './chat.config';
export * from './crypto.config';
export * from './database.config';
export * from './env';
export * from './events.config';
export * from './http.config';
export * from './jobs.config';
export * from './market.config';
export * from './operations.config';
export * from './paypal.config';
export * from './reconciliation.config';
export * from './redis.config';
export * from './sandbox.config';
export * from './sign-in.config';
export * from './trust-proxy';
export * from './trades.config';
export * from './webhooks.config';
export * from './wechat.config';

export const allConfigs = [
  appConfig,
  authConfig,
  bankConfig,
  chatConfig,
  cryptoConfig,
  databaseConfig,
  eventsConfig,
  httpConfig,
  jobsConfig,
  marketConfig,
  operationsConfig,
  paypalConfig,
  reconciliationConfig,
  redisConfig,
  sandboxConfig,
  signInConfig,
  tradesConfig,
  webhooksConfig,
  wechatConfig,
];

/** Validates every concern at once, so a bad start lists every problem, not just the first. */
export function validateAllConfig(env = process.env): void {
  const problems: string[] = [];
  for (const load of [
    loadAppConfig,
    loadAuthConfig,
    loadBankConfig,
    loadChatConfig,
    loadCryptoConfig,
    loadDatabaseConfig,
    loadEventsConfig,
    loadHttpConfig,
    loadJobsConfig,
    loadMarketConfig,
    loadOperationsConfig,
    loadPaypalConfig,
    loadReconciliationConfig,
    loadRedisConfig,
    loadSandboxConfig,
    loadSignInConfig,
    loadTradesConfig,
    loadWebhooksConfig,
    loadWechatConfig,
  ]) {
    try {
      load(env);
    } catch (error) {
      // A bad NODE_ENV is reported by every concern that asks whether it is production: name it once.
      if (error instanceof ConfigError) problems.push(...error.problems.filter((p) => !problems.includes(p)));
      else throw error;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
