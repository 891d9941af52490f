import {
  ConfigError,
  DEV_BLIND_INDEX_KEY,
  DEV_FIELD_ENCRYPTION_KEYS,
  DEV_JWT_SECRET,
  environmentOf,
  loadAppConfig,
  loadMarketConfig,
  loadOperationsConfig,
  loadDatabaseConfig,
  loadHttpConfig,
  loadJobsConfig,
  loadRedisConfig,
  loadWebhooksConfig,
  validateAllConfig,
} from '.';

/** A production configuration with no development value in it. */
const PRODUCTION: Record<string, string> = {
  NODE_ENV: 'production',
  JWT_SECRET: 'a-production-secret-of-sufficient-length',
  FIELD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  FIELD_ENCRYPTION_ACTIVE_KEY_ID: 'k1',
  BLIND_INDEX_KEY: Buffer.alloc(32, 9).toString('base64'),
  PAYPAL_BASE_URL: 'https://api-m.paypal.com',
  PAYPAL_CLIENT_ID: 'a-production-paypal-client',
  PAYPAL_CLIENT_SECRET: 'a-production-paypal-secret',
  PAYPAL_WEBHOOK_ID: 'WH-PRODUCTION',
  BANK_BASE_URL: 'https://api.bank.example',
  BANK_API_KEY: 'a-production-bank-key',
  BANK_WEBHOOK_SECRET: 'a-production-bank-webhook-secret',
  WECHATPAY_BASE_URL: 'https://api.mch.weixin.qq.com',
  WECHATPAY_MCHID: '1230000109',
  WECHATPAY_MERCHANT_SERIAL: '5157F09EFDC096DE15EBE81A47057A7200000002',
  WECHATPAY_MERCHANT_KEY_FILE: '/run/secrets/wechatpay/apiclient_key.pem',
  WECHATPAY_APIV3_KEY: 'a-production-apiv3-key-32-bytes!',
  RATE_FEED_URL: 'https://rates.example/usd-cny',
  METRICS_TOKEN: 'm'.repeat(40),
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    validateAllConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

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

  it('writes the hot reads with compiled serializers unless told otherwise', () => {
    expect(loadHttpConfig({}).responseSerializers).toBe(true);
    expect(loadHttpConfig({ RESPONSE_SERIALIZERS: 'false' }).responseSerializers).toBe(false);
    expect(() => loadHttpConfig({ RESPONSE_SERIALIZERS: 'maybe' })).toThrow(/RESPONSE_SERIALIZERS/);
  });

  it('never echoes a malformed URL, which may hold a password', () => {
    expect(() => loadDatabaseConfig({ DATABASE_URL: 'postgres://user:s3cret@@:bad' })).toThrow(/DATABASE_URL/);
    try {
      loadDatabaseConfig({ DATABASE_URL: 'postgres://user:s3cret@@:bad' });
    } catch (e) {
      expect((e as Error).message).not.toContain('s3cret');
    }
  });

  it('listens on DATABASE_URL unless DATABASE_LISTEN_URL names another way to the database', () => {
    const direct = 'postgres://postgres@127.0.0.1:5432/yuanbridge';
    expect(loadDatabaseConfig({ DATABASE_URL: 'postgres://postgres@pgbouncer:6432/yuanbridge' }).listenUrl).toBe(
      'postgres://postgres@pgbouncer:6432/yuanbridge',
    );
    expect(
      loadDatabaseConfig({ DATABASE_URL: 'postgres://postgres@pgbouncer:6432/yuanbridge', DATABASE_LISTEN_URL: direct }).listenUrl,
    ).toBe(direct);
    expect(() => loadDatabaseConfig({ DATABASE_LISTEN_URL: 'mysql://x/y' })).toThrow(/DATABASE_LISTEN_URL must use postgres:/);
    expect(() => loadDatabaseConfig({ DATABASE_LISTEN_URL: 'postgres://127.0.0.1:5432' })).toThrow(
      /DATABASE_LISTEN_URL must name a database/,
    );
  });

  it('refuses provider APIs over plain http in production: their credentials travel with every call', () => {
    for (const variable of ['PAYPAL_BASE_URL', 'BANK_BASE_URL', 'WECHATPAY_BASE_URL']) {
      expect(problemsOf({ ...PRODUCTION, [variable]: 'http://provider.example' })).toEqual([`${variable} must use https in production`]);
    }
  });

  it('refuses the development secrets in production', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('JWT_SECRET must be set in production'),
        expect.stringContaining('FIELD_ENCRYPTION_KEYS must be set in production'),
        expect.stringContaining('BLIND_INDEX_KEY must be set in production'),
        expect.stringContaining('PAYPAL_BASE_URL must point at PayPal in production'),
        expect.stringContaining('PAYPAL_CLIENT_ID must be set in production'),
        expect.stringContaining('PAYPAL_CLIENT_SECRET must be set in production'),
        expect.stringContaining('PAYPAL_WEBHOOK_ID must be set in production'),
        expect.stringContaining('BANK_BASE_URL must point at the bank in production'),
        expect.stringContaining('BANK_API_KEY must be set in production'),
        expect.stringContaining('BANK_WEBHOOK_SECRET must be set in production'),
        expect.stringContaining('WECHATPAY_BASE_URL must point at WeChat Pay in production'),
        expect.stringContaining('WECHATPAY_MCHID must be set in production'),
        expect.stringContaining('WECHATPAY_MERCHANT_SERIAL must be set in production'),
        expect.stringContaining('WECHATPAY_MERCHANT_KEY_FILE must be set in production'),
        expect.stringContaining('WECHATPAY_APIV3_KEY must be set in production'),
        expect.stringContaining('RATE_FEED_URL must be set in production'),
        expect.stringContaining('METRICS_TOKEN must be set in production'),
      ]),
    );
    expect(() => validateAllConfig(PRODUCTION)).not.toThrow();
    expect(DEV_JWT_SECRET.length).toBeGreaterThanOrEqual(32);
  });

  it('refuses each development secret on its own in production, however it is spelled', () => {
    const devFieldKey = DEV_FIELD_ENCRYPTION_KEYS.slice(DEV_FIELD_ENCRYPTION_KEYS.indexOf(':') + 1);
    const urlSafe = (b64: string) => b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const cases: [Record<string, string>, string][] = [
      [{ JWT_SECRET: DEV_JWT_SECRET }, 'JWT_SECRET'],
      [{ JWT_SECRET: ` ${DEV_JWT_SECRET} ` }, 'JWT_SECRET'],
      // The development field key under a production key id, beside a real key, or spelled without padding.
      [{ FIELD_ENCRYPTION_KEYS: `prod1:${devFieldKey}`, FIELD_ENCRYPTION_ACTIVE_KEY_ID: 'prod1' }, 'FIELD_ENCRYPTION_KEYS'],
      [{ FIELD_ENCRYPTION_KEYS: `${PRODUCTION.FIELD_ENCRYPTION_KEYS},old:${devFieldKey}` }, 'FIELD_ENCRYPTION_KEYS'],
      [{ FIELD_ENCRYPTION_KEYS: `k1:${urlSafe(devFieldKey)}` }, 'FIELD_ENCRYPTION_KEYS'],
      [{ FIELD_ENCRYPTION_KEYS: `k1:${DEV_BLIND_INDEX_KEY}` }, 'FIELD_ENCRYPTION_KEYS'],
      [{ BLIND_INDEX_KEY: urlSafe(DEV_BLIND_INDEX_KEY) }, 'BLIND_INDEX_KEY'],
      [{ BLIND_INDEX_KEY: devFieldKey }, 'BLIND_INDEX_KEY'],
      [{ BLIND_INDEX_KEY: PRODUCTION.FIELD_ENCRYPTION_KEYS.slice(3) }, 'BLIND_INDEX_KEY must differ'],
      [{ PAYPAL_CLIENT_ID: 'yb-sandbox-client' }, 'PAYPAL_CLIENT_ID'],
      [{ PAYPAL_WEBHOOK_ID: 'WH-YB-SANDBOX' }, 'PAYPAL_WEBHOOK_ID'],
      [{ WECHATPAY_APIV3_KEY: 'yb-sandbox-apiv3-key-32-bytes-ok' }, 'WECHATPAY_APIV3_KEY'],
      [{ WECHATPAY_MERCHANT_KEY_FILE: './.data/wechatpay/apiclient_key.pem' }, 'WECHATPAY_MERCHANT_KEY_FILE'],
      [{ WECHATPAY_MERCHANT_SERIAL: '3775b6a45acd588826d15e583a95f5dd00000001' }, 'WECHATPAY_MERCHANT_SERIAL'],
      [{ BANK_API_KEY: 'yb-sandbox-bank-key' }, 'BANK_API_KEY'],
    ];
    for (const [change, variable] of cases) {
      expect({ change, problems: problemsOf({ ...PRODUCTION, ...change }) }).toEqual({
        change,
        problems: [expect.stringContaining(variable)],
      });
    }
  });

  it('knows three environments by their exact names: unset is development, anything else refuses to start', () => {
    expect(environmentOf({})).toBe('development');
    expect(environmentOf({ NODE_ENV: '' })).toBe('development');
    for (const name of ['development', 'test', 'production'] as const) expect(environmentOf({ NODE_ENV: name })).toBe(name);
    for (const bad of ['production ', ' production', 'PRODUCTION', 'Production', 'prod', 'producton', 'staging', ' ']) {
      expect(() => environmentOf({ NODE_ENV: bad })).toThrow(ConfigError);
      // Every concern asks; the start names the problem once, and never runs as development or production.
      const problems = problemsOf({ ...PRODUCTION, NODE_ENV: bad });
      expect(problems).toEqual([expect.stringContaining('NODE_ENV must be exactly development, test or production')]);
      expect(() => loadAppConfig({ NODE_ENV: bad })).toThrow(/NODE_ENV/);
    }
  });

  it('listens on loopback unless in production or HOST says otherwise', () => {
    expect(loadAppConfig({}).host).toBe('127.0.0.1');
    // A test deployment runs the mocks with the development secrets: not for the network either.
    expect(loadAppConfig({ NODE_ENV: 'test' }).host).toBe('127.0.0.1');
    expect(loadAppConfig({ NODE_ENV: 'development' }).host).toBe('127.0.0.1');
    expect(loadAppConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(loadAppConfig(PRODUCTION).host).toBe('0.0.0.0');
    expect(loadAppConfig({}).sandbox).toBe(true);
  });

  it('takes the reference from RATE_FEED_URL, required over HTTPS in production, and never the sandbox mock there', () => {
    expect(loadMarketConfig({}).rateFeedUrl).toBeUndefined();
    expect(loadMarketConfig({ RATE_FEED_URL: 'http://127.0.0.1:3000/sandbox/rates/usd-cny' }).rateFeedUrl).toBe(
      'http://127.0.0.1:3000/sandbox/rates/usd-cny',
    );
    const { RATE_FEED_URL: _url, ...withoutFeed } = PRODUCTION;
    expect(problemsOf(withoutFeed)).toEqual([expect.stringContaining('RATE_FEED_URL must be set in production')]);
    expect(problemsOf({ ...PRODUCTION, RATE_FEED_URL: 'http://rates.example/usd-cny' })).toEqual([
      expect.stringContaining('RATE_FEED_URL must use https:'),
    ]);
    expect(problemsOf({ ...PRODUCTION, RATE_FEED_URL: 'https://yb.example/sandbox/rates/usd-cny' })).toEqual([
      expect.stringContaining('not the sandbox mock'),
    ]);
    expect(() => loadMarketConfig({ RATE_FEED_MIN_RATE: '9', RATE_FEED_MAX_RATE: '8' })).toThrow(/RATE_FEED_MIN_RATE/);
    expect(() => loadMarketConfig({ RATE_FEED_MAX_RATE: '-1' })).toThrow(/RATE_FEED_MAX_RATE/);
    expect(() => loadMarketConfig({ RATE_FEED_CA_FILE: '/nonexistent/feed-ca.pem' })).toThrow('RATE_FEED_CA_FILE cannot be read');
  });

  it('protects /metrics and the docs with tokens: required in production, docs off there unless asked for', () => {
    expect(loadOperationsConfig({})).toEqual({ metricsToken: undefined, docsEnabled: true, docsToken: undefined });
    expect(loadOperationsConfig(PRODUCTION)).toMatchObject({ docsEnabled: false });
    expect(problemsOf({ ...PRODUCTION, DOCS_ENABLED: 'true' })).toEqual([expect.stringContaining('DOCS_TOKEN must be set in production')]);
    expect(() => validateAllConfig({ ...PRODUCTION, DOCS_ENABLED: 'true', DOCS_TOKEN: 'd'.repeat(32) })).not.toThrow();
    expect(() => loadOperationsConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN must be at least 32/);
  });

  it('sends webhooks to public addresses only unless told otherwise, and never otherwise in production', () => {
    expect(loadWebhooksConfig({}).allowedHosts).toEqual([]);
    expect(loadWebhooksConfig({ WEBHOOK_ALLOWED_HOSTS: ' 127.0.0.1, LocalHost ' }).allowedHosts).toEqual(['127.0.0.1', 'localhost']);
    expect(problemsOf({ ...PRODUCTION, WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' })).toEqual([
      'WEBHOOK_ALLOWED_HOSTS cannot be set in production',
    ]);
    expect(loadWebhooksConfig({})).toMatchObject({ attempts: 8, backoffMs: 30000, disableAfterFailures: 20, maxEndpointsPerUser: 10 });
    expect(() => loadWebhooksConfig({ WEBHOOK_ATTEMPTS: '0' })).toThrow('WEBHOOK_ATTEMPTS must be >= 1');
  });

  it('turns sandbox mode off in production', () => {
    expect(loadAppConfig({ NODE_ENV: 'production' }).sandbox).toBe(false);
    expect(() => loadAppConfig({ NODE_ENV: 'production', SANDBOX_MODE: 'true' })).toThrow('SANDBOX_MODE cannot be on in production');
  });
});
