import { registerAs } from '@nestjs/config';
import { resolve } from 'node:path';
import { EnvReader, isProduction } from './env';

export const DEV_WECHATPAY_MCHID = '1900000001';
export const DEV_WECHATPAY_MERCHANT_SERIAL = '3775B6A45ACD588826D15E583A95F5DD00000001';
export const DEV_WECHATPAY_APIV3_KEY = 'yb-sandbox-apiv3-key-32-bytes-ok';
export const DEV_WECHATPAY_MERCHANT_KEY_FILE = '.data/wechatpay/apiclient_key.pem';
const WECHAT_SCHEDULE = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600].map((s) => s * 1000);

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
    /** Where the mock delivers notifications; unset: `/v1/provider-webhooks/wechat` under `SANDBOX_BASE_URL`. */
    mockNotifyUrl: read.optionalHttpUrl('WECHAT_MOCK_NOTIFY_URL'),
    /** The mock's notification retry schedule (WeChat: 15 s, 15 s, 30 s, 3 min, … 6 h; tests shorten it). */
    mockNotifyScheduleMs: schedule.length > 0 && schedule.every((step) => /^\d+$/.test(step)) ? schedule.map(Number) : WECHAT_SCHEDULE,
  };
  if (Buffer.byteLength(config.apiV3Key) !== 32) read.fail('WECHATPAY_APIV3_KEY must be 32 bytes');
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
