import { registerAs } from '@nestjs/config';
import { EnvReader, isProduction } from './env';

/** Client webhooks (API.md "Events: streams and client webhooks"). */
export function loadWebhooksConfig(env = process.env) {
  const read = new EnvReader(env);
  /** Hosts (names or IP addresses, any port) exempt from the public-address rule: development and tests only (refused in production). */
  const allowedHosts = read.list('WEBHOOK_ALLOWED_HOSTS').map((host) => host.toLowerCase());
  // Fail closed: a production service sends every user's webhooks to public addresses only.
  if (allowedHosts.length > 0 && isProduction(env)) read.fail('WEBHOOK_ALLOWED_HOSTS cannot be set in production');
  return read.done({
    /** Attempts of one delivery in all, the first included. */
    attempts: read.int('WEBHOOK_ATTEMPTS', 8, { min: 1, max: 30 }),
    /** The first retry's delay; each later one doubles it. */
    backoffMs: read.int('WEBHOOK_BACKOFF_MS', 30000, { min: 10, max: 24 * 3600 * 1000 }),
    /** Consecutive events that failed every attempt after which an endpoint is disabled. */
    disableAfterFailures: read.int('WEBHOOK_DISABLE_AFTER_FAILURES', 20, { min: 1, max: 10000 }),
    allowedHosts,
    /** Endpoints one account may have at once (409 `conflict` past it). */
    maxEndpointsPerUser: read.int('WEBHOOK_MAX_ENDPOINTS_PER_USER', 10, { min: 1, max: 1000 }),
    /** Deliveries each process sends at once: they wait on receivers, up to 10 s each, not on the CPU. */
    concurrency: read.int('WEBHOOK_CONCURRENCY', 32, { min: 1, max: 500 }),
    /** Attempts to one endpoint under way at once, across processes: a dead receiver holds no more of the slots. */
    concurrencyPerEndpoint: read.int('WEBHOOK_CONCURRENCY_PER_ENDPOINT', 4, { min: 1, max: 500 }),
    /** How long a delivery whose endpoint has its cap under way waits before it asks again (a random part added). */
    endpointBusyDelayMs: read.int('WEBHOOK_ENDPOINT_BUSY_DELAY_MS', 2000, { min: 10, max: 600000 }),
    /** How often deliveries whose job Redis lost are queued again, and old ones purged. */
    sweepEveryMs: read.int('WEBHOOK_SWEEP_EVERY_MS', 60000, { min: 100 }),
    /** A pending delivery this late past its due time has lost its job: queued again (at least once: receivers deduplicate). */
    sweepAfterMs: read.int('WEBHOOK_SWEEP_AFTER_MS', 10 * 60 * 1000, { min: 100 }),
    /** How long the delivery log keeps a finished delivery (and a deleted endpoint, once its log is gone). Over 2^31 by default: SQL only. */
    deliveryRetentionMs: read.int('WEBHOOK_DELIVERY_RETENTION_MS', 30 * 24 * 3600 * 1000, { min: 60000 }),
  });
}

export type WebhooksConfig = ReturnType<typeof loadWebhooksConfig>;

export const webhooksConfig = registerAs('webhooks', () => loadWebhooksConfig());
