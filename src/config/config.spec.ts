import {
  ConfigError,
  DEV_JWT_SECRET,
  loadAppConfig,
  loadDatabaseConfig,
  loadHttpConfig,
  loadJobsConfig,
  loadRedisConfig,
  validateAllConfig,
} from '.';

describe('configuration', () => {
  it('starts with no settings at all on a machine with local PostgreSQL and Redis', () => {
    expect(() => validateAllConfig({})).not.toThrow();
    expect(loadDatabaseConfig({}).url).toBe('postgres://postgres@127.0.0.1:5432/yuanbridge');
    expect(loadRedisConfig({}).url).toBe('redis://127.0.0.1:6379');
    expect(loadRedisConfig({}).queuePrefix).toBe('{yb}');
    expect(loadAppConfig({}).sandbox).toBe(true);
  });

  it('names every bad value at once', () => {
    let error: ConfigError | undefined;
    try {
      validateAllConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x/y', RATE_LIMIT_ENABLED: 'maybe', QUEUE_PREFIX: 'yb' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('PORT must be an integer'),
        expect.stringContaining('DATABASE_URL must use postgres:'),
        expect.stringContaining('RATE_LIMIT_ENABLED must be true or false'),
        expect.stringContaining('QUEUE_PREFIX must be a hash tag'),
      ]),
    );
  });

  it('runs eight jobs of a queue at once unless told otherwise, and never none', () => {
    expect(loadJobsConfig({}).workerConcurrency).toBe(8);
    expect(loadJobsConfig({ WORKER_CONCURRENCY: '32' }).workerConcurrency).toBe(32);
    expect(() => loadJobsConfig({ WORKER_CONCURRENCY: '0' })).toThrow(/WORKER_CONCURRENCY/);
  });

  it('leases an idempotency key for a minute unless told otherwise, between a second and an hour', () => {
    expect(loadHttpConfig({}).idempotencyLeaseMs).toBe(60000);
    expect(loadHttpConfig({ IDEMPOTENCY_LEASE_MS: '120000' }).idempotencyLeaseMs).toBe(120000);
    expect(() => loadHttpConfig({ IDEMPOTENCY_LEASE_MS: '500' })).toThrow(/IDEMPOTENCY_LEASE_MS/);
    expect(() => loadHttpConfig({ IDEMPOTENCY_LEASE_MS: 'soon' })).toThrow(/IDEMPOTENCY_LEASE_MS/);
  });

  it('never echoes a malformed URL, which may hold a password', () => {
    expect(() => loadDatabaseConfig({ DATABASE_URL: 'postgres://user:s3cret@@:bad' })).toThrow(/DATABASE_URL/);
    try {
      loadDatabaseConfig({ DATABASE_URL: 'postgres://user:s3cret@@:bad' });
    } catch (e) {
      expect((e as Error).message).not.toContain('s3cret');
    }
  });

  it('refuses the development secrets in production', () => {
    let error: ConfigError | undefined;
    try {
      validateAllConfig({ NODE_ENV: 'production' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error!.problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('JWT_SECRET must be set in production'),
        expect.stringContaining('FIELD_ENCRYPTION_KEYS must be set in production'),
        expect.stringContaining('BLIND_INDEX_KEY must be set in production'),
        expect.stringContaining('PAYPAL_BASE_URL must point at PayPal in production'),
        expect.stringContaining('BANK_BASE_URL must point at the bank in production'),
        expect.stringContaining('BANK_WEBHOOK_SECRET must be set in production'),
      ]),
    );
    expect(() =>
      validateAllConfig({
        NODE_ENV: 'production',
        JWT_SECRET: 'a-production-secret-of-sufficient-length',
        FIELD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
        FIELD_ENCRYPTION_ACTIVE_KEY_ID: 'k1',
        BLIND_INDEX_KEY: Buffer.alloc(32, 9).toString('base64'),
        PAYPAL_BASE_URL: 'https://api-m.paypal.com',
        PAYPAL_CLIENT_SECRET: 'a-production-paypal-secret',
        BANK_BASE_URL: 'https://api.bank.example',
        BANK_API_KEY: 'a-production-bank-key',
        BANK_WEBHOOK_SECRET: 'a-production-bank-webhook-secret',
        WECHATPAY_BASE_URL: 'https://api.mch.weixin.qq.com',
        WECHATPAY_APIV3_KEY: 'a-production-apiv3-key-32-bytes!',
      }),
    ).not.toThrow();
    expect(DEV_JWT_SECRET.length).toBeGreaterThanOrEqual(32);
  });

  it('turns sandbox mode off in production', () => {
    expect(loadAppConfig({ NODE_ENV: 'production' }).sandbox).toBe(false);
    expect(() => loadAppConfig({ NODE_ENV: 'production', SANDBOX_MODE: 'true' })).toThrow('SANDBOX_MODE cannot be on in production');
  });
});
