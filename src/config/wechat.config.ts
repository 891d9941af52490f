import { registerAs } from '@nestjs/config';
import { createPublicKey } from 'node:crypto';
import { resolve } from 'node:path';
import { EnvReader, isProduction } from './env';

export const DEV_WECHATPAY_MCHID = '1900000001';
export const DEV_WECHATPAY_MERCHANT_SERIAL = '3775B6A45ACD588826D15E583A95F5DD00000001';
export const DEV_WECHATPAY_APIV3_KEY = 'yb-sandbox-apiv3-key-32-bytes-ok';
export const DEV_WECHATPAY_MERCHANT_KEY_FILE = '.data/wechatpay/apiclient_key.pem';
const WECHAT_SCHEDULE = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600].map((s) => s * 1000);

/** How the mock signs its answers and notifications: with a platform certificate's key, or (merchants since late 2024) the WeChat Pay public key's. */
export const WECHAT_MOCK_SIGNING = ['platform_certificate', 'public_key'] as const;
export type WechatMockSigning = (typeof WECHAT_MOCK_SIGNING)[number];

/** The serials of WeChat Pay public keys start so; any other serial names a platform certificate. */
export const WECHATPAY_PUBLIC_KEY_SERIAL_PREFIX = 'PUB_KEY_ID_';

export function loadWechatConfig(env = process.env) {
  const read = new EnvReader(env);
  const production = isProduction(env);
  const schedule = read.list('WECHAT_MOCK_NOTIFY_SCHEDULE_MS');
  if (schedule.some((step) => !/^\d+$/.test(step))) read.fail('WECHAT_MOCK_NOTIFY_SCHEDULE_MS is a comma-separated list of milliseconds');
  const config = {
    /** WeChat Pay's API base, or the mock's (`…/sandbox/wechat`) in sandbox mode; paths after it are WeChat's (`/v3/…`). */
    baseUrl: read.providerBaseUrl('WECHATPAY_BASE_URL', '/sandbox/wechat', 'WeChat Pay'),
    mchid: read.credential('WECHATPAY_MCHID', DEV_WECHATPAY_MCHID),
    /** The serial of the merchant API certificate our requests are signed with. */
    merchantSerial: read.string('WECHATPAY_MERCHANT_SERIAL', DEV_WECHATPAY_MERCHANT_SERIAL),
    /** The merchant API private key (PEM). In sandbox mode a development key is made here on first start. */
    merchantKeyFile: read.string('WECHATPAY_MERCHANT_KEY_FILE', DEV_WECHATPAY_MERCHANT_KEY_FILE),
    /** The 32-byte APIv3 key: notifications' resources and the platform certificates are encrypted with it. */
    apiV3Key: read.string('WECHATPAY_APIV3_KEY', DEV_WECHATPAY_APIV3_KEY),
    /**
     * The WeChat Pay public key and its id, as downloaded from the merchant platform (public-key mode): answers and
     * notifications whose `Wechatpay-Serial` is this id are verified with it. Unset: only platform certificates, or in
     * sandbox mode the mock's public key.
     */
    publicKeyId: read.optionalString('WECHATPAY_PUBLIC_KEY_ID'),
    /** PEM; a one-line value may write its line breaks as `\n`. */
    publicKeyPem: read.optionalString('WECHATPAY_PUBLIC_KEY')?.replace(/\\n/g, '\n'),
    /** Sandbox: whether the mock signs as a platform-certificate merchant's WeChat or a public-key-mode one's. */
    mockSigning: read.string('WECHAT_MOCK_SIGNING', 'platform_certificate') as WechatMockSigning,
    /** Where the mock delivers notifications; unset: `/v1/provider-webhooks/wechat` under `SANDBOX_BASE_URL`. */
    mockNotifyUrl: read.optionalHttpUrl('WECHAT_MOCK_NOTIFY_URL'),
    /** The mock's notification retry schedule (WeChat: 15 s, 15 s, 30 s, 3 min, … 6 h; tests shorten it). */
    mockNotifyScheduleMs: schedule.length > 0 && schedule.every((step) => /^\d+$/.test(step)) ? schedule.map(Number) : WECHAT_SCHEDULE,
  };
  if (Buffer.byteLength(config.apiV3Key) !== 32) read.fail('WECHATPAY_APIV3_KEY must be 32 bytes');
  if (!WECHAT_MOCK_SIGNING.includes(config.mockSigning)) read.fail(`WECHAT_MOCK_SIGNING is one of ${WECHAT_MOCK_SIGNING.join(', ')}`);
  if (!config.publicKeyId !== !config.publicKeyPem) read.fail('WECHATPAY_PUBLIC_KEY_ID and WECHATPAY_PUBLIC_KEY are set together');
  if (config.publicKeyId && !new RegExp(`^${WECHATPAY_PUBLIC_KEY_SERIAL_PREFIX}[0-9A-Za-z_]+$`).test(config.publicKeyId)) {
    read.fail(`WECHATPAY_PUBLIC_KEY_ID starts with ${WECHATPAY_PUBLIC_KEY_SERIAL_PREFIX}, as the merchant platform shows it`);
  }
  if (config.publicKeyPem) {
    let readable = !config.publicKeyPem.includes('PRIVATE KEY');
    try {
      createPublicKey(config.publicKeyPem);
    } catch {
      readable = false;
    }
    // A private key would be read too (its public half): refused, it has no business here.
    if (!readable) read.fail('WECHATPAY_PUBLIC_KEY is not a PEM public key (the pub_key.pem the merchant platform gives)');
  }
  if (production) {
    if (Buffer.from(config.apiV3Key).equals(Buffer.from(DEV_WECHATPAY_APIV3_KEY)))
      read.fail('WECHATPAY_APIV3_KEY must be set in production');
    if (config.merchantSerial.toUpperCase() === DEV_WECHATPAY_MERCHANT_SERIAL)
      read.fail('WECHATPAY_MERCHANT_SERIAL must be set in production');
    // The default path is where sandbox mode writes its development key.
    if (resolve(config.merchantKeyFile) === resolve(DEV_WECHATPAY_MERCHANT_KEY_FILE))
      read.fail('WECHATPAY_MERCHANT_KEY_FILE must be set in production (the default path holds the development key)');
  }
  return read.done(config);
}

export type WechatConfig = ReturnType<typeof loadWechatConfig>;

export const wechatConfig = registerAs('wechat', () => loadWechatConfig());
