import { registerAs } from '@nestjs/config';
import { EnvReader } from './env';
import { readTrustProxy } from './trust-proxy';

export function loadHttpConfig(env = process.env) {
  const read = new EnvReader(env);
  return read.done({
    rateLimitEnabled: read.bool('RATE_LIMIT_ENABLED', true),
    rateLimitWindowMs: read.int('RATE_LIMIT_WINDOW_MS', 60000, { min: 1000 }),
    /** Requests per window from one IP address, authenticated or not. */
    rateLimitPerIp: read.int('RATE_LIMIT_PER_IP', 600, { min: 1 }),
    /** Requests per window from one user (token or API key), whatever the address. */
    rateLimitPerUser: read.int('RATE_LIMIT_PER_USER', 300, { min: 1 }),
    idempotencyTtlHours: read.int('IDEMPOTENCY_TTL_HOURS', 24, { min: 1 }),
    /** How long a claimed key's request may run before a retry may take the key over (if it changed nothing). */
    // Above the longest a request normally runs (statements stop at 15 s, provider calls at 10 s); one that outlives
    // it anyway cannot commit once a retry has taken its key over.
    idempotencyLeaseMs: read.int('IDEMPOTENCY_LEASE_MS', 60000, { min: 1000, max: 3600000 }),
    /** Which peers may name the client in `X-Forwarded-For` (see trust-proxy.ts). */
    trustProxy: readTrustProxy(read),
    /** How deep objects and arrays may nest in a JSON body; deeper bodies are refused before parsing. */
    jsonMaxDepth: read.int('JSON_MAX_DEPTH', 32, { min: 2, max: 1000 }),
    /** The hot reads' 200 bodies written by serializers compiled from their OpenAPI schemas (else JSON.stringify). */
    responseSerializers: read.bool('RESPONSE_SERIALIZERS', true),
  });
}

export type HttpConfig = ReturnType<typeof loadHttpConfig>;

export const httpConfig = registerAs('http', () => loadHttpConfig());
