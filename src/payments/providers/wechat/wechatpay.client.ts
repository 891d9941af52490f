import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { createPublicKey, KeyObject } from 'node:crypto';
import { appConfig, mockBase, sandboxConfig, wechatConfig } from '../../../config';
import { ProviderHealth } from '../../../provider-health/provider-health.service';
import { providerRequest, ProviderResponse } from '../provider-http';
import { WechatMerchantKey } from './wechat-merchant-key';
import { WalletTransfer, WechatApiError, WechatPort } from './wechat.port';
import { aesGcmDecrypt, authorizationHeader, nonce, requestMessage, rsaSign, withinTolerance } from './wechatpay-crypto';
import { isPublicKeySerial, keyForSerial, PublicKeyEntry, signatureHeaders, verifySignature } from './wechatpay-verify';

const TIMEOUT_MS = 10000;

interface TransferBody {
  transfer_id: string;
  from_wechat_id: string;
  to_wechat_id: string;
  amount: number;
  state: string;
  create_time: string;
}

const toTransfer = (body: TransferBody): WalletTransfer => ({
  transferId: body.transfer_id,
  fromWechatId: body.from_wechat_id,
  toWechatId: body.to_wechat_id,
  amountFen: BigInt(body.amount),
  state: body.state,
  createdAt: new Date(body.create_time),
});

/**
 * WeChat Pay v3 over HTTP (provider-http.ts): each request signed with the merchant key (the URL as sent, prefix included), each
 * answer's and notification's `Wechatpay-*` signature verified with the key its serial names. A `PUB_KEY_ID_…`
 * serial is the WeChat Pay public key (public-key mode), configured as downloaded from the merchant platform, or in
 * sandbox mode the mock's unless one is configured; it never needs `/v3/certificates`. Any other serial is a
 * platform certificate: fetched from `/v3/certificates`, decrypted with the APIv3 key, cached; an unknown serial
 * fetches them again.
 */
@Injectable()
export class WechatPayClient implements WechatPort {
  private certificates = new Map<string, KeyObject>();
  private publicKey?: PublicKeyEntry;
  /** Sandbox mode with no public key configured: where the mock's is downloaded from. */
  private readonly mockPublicKeyUrl?: string;

  constructor(
    @Inject(wechatConfig.KEY) private readonly config: ConfigType<typeof wechatConfig>,
    private readonly merchantKey: WechatMerchantKey,
    private readonly health: ProviderHealth,
    @Inject(appConfig.KEY) app: ConfigType<typeof appConfig>,
    @Inject(sandboxConfig.KEY) sandbox: ConfigType<typeof sandboxConfig>,
  ) {
    if (config.publicKeyId && config.publicKeyPem) this.publicKey = { id: config.publicKeyId, key: createPublicKey(config.publicKeyPem) };
    else if (app.sandbox) this.mockPublicKeyUrl = `${mockBase(sandbox.baseUrl, 'wechat')}/public-key`;
  }

  async getTransfer(transferId: string): Promise<WalletTransfer | null> {
    try {
      return toTransfer(await this.call<TransferBody>(`/v3/wallet-transfers/${encodeURIComponent(transferId)}`));
    } catch (error) {
      // Only WeChat saying so: any other 404 (a wrong base URL, a gateway's page) is a failure to retry, not an absence.
      if (error instanceof WechatApiError && error.status === 404 && error.code === 'RESOURCE_NOT_EXISTS') return null;
      throw error;
    }
  }

  async searchTransfers(fromWechatId: string, toWechatId: string, since: Date): Promise<WalletTransfer[]> {
    const query = new URLSearchParams({ from_wechat_id: fromWechatId, to_wechat_id: toWechatId, since: since.toISOString() });
    const body = await this.call<{ data: TransferBody[] }>(`/v3/wallet-transfers?${query.toString()}`);
    return body.data.map(toTransfer);
  }

  async openNotification(headers: Record<string, string | string[] | undefined>, rawBody: string): Promise<Record<string, unknown> | null> {
    const signed = signatureHeaders((name) => (typeof headers[name] === 'string' ? (headers[name] as string) : undefined));
    const key = signed && (await this.key(signed.serial));
    if (!signed || !key || !verifySignature(signed, rawBody, key)) return null;
    try {
      const notification = JSON.parse(rawBody) as { resource?: { ciphertext: string; associated_data: string; nonce: string } };
      if (!notification.resource) return null;
      return { ...notification, resource: JSON.parse(aesGcmDecrypt(this.config.apiV3Key, notification.resource)) };
    } catch {
      return null;
    }
  }

  /** Every call's outcome feeds the provider's health: a 5xx, a network failure or an unsigned answer is WeChat failing. */
  private async call<T>(path: string): Promise<T> {
    try {
      const result = await this.send<T>(path);
      await this.health.succeeded('wechat');
      return result;
    } catch (error) {
      // A 4xx in WeChat's own error shape is WeChat answering; anything else is WeChat (or the way to it) failing.
      const answered = error instanceof WechatApiError && error.status > 0 && error.status < 500 && error.code !== `HTTP_${error.status}`;
      if (answered) await this.health.succeeded('wechat');
      else await this.health.failed('wechat');
      throw error;
    }
  }

  private async send<T>(path: string): Promise<T> {
    const url = new URL(`${this.config.baseUrl}${path}`);
    const signedUrl = `${url.pathname}${url.search}`;
    const timestamp = Math.floor(Date.now() / 1000).toString();
    const nonceStr = nonce();
    const authorization = authorizationHeader({
      mchid: this.config.mchid,
      nonce_str: nonceStr,
      timestamp,
      serial_no: this.config.merchantSerial,
      signature: rsaSign(this.merchantKey.privateKey(), requestMessage('GET', signedUrl, timestamp, nonceStr, '')),
    });
    let response: ProviderResponse;
    try {
      response = await providerRequest(url, { headers: { authorization, accept: 'application/json' }, timeoutMs: TIMEOUT_MS });
    } catch (error) {
      throw new WechatApiError(0, 'NETWORK_ERROR', `WeChat Pay could not be reached: ${(error as Error).message}`);
    }
    const raw = response.text;
    if (!response.ok) {
      let body: { code?: string; message?: string } = {};
      try {
        body = JSON.parse(raw);
      } catch {
        // not JSON: keep the status
      }
      throw new WechatApiError(
        response.status,
        body.code ?? `HTTP_${response.status}`,
        body.message ?? `WeChat Pay answered ${response.status}`,
      );
    }
    await this.verifyResponse(response, raw, path);
    return JSON.parse(raw) as T;
  }

  /** Every answer must carry WeChat's signature: an unsigned or forged one is refused like an outage. */
  private async verifyResponse(response: ProviderResponse, raw: string, path: string): Promise<void> {
    const signed = signatureHeaders((name) => response.header(name));
    // The certificate list is where the certificates come from: it is trusted for its APIv3-key encryption.
    if (signed && path === '/v3/certificates' && withinTolerance(signed.timestamp)) return;
    const key = signed && path !== '/v3/certificates' ? await this.key(signed.serial) : undefined;
    if (!signed || !key || !verifySignature(signed, raw, key)) {
      throw new WechatApiError(502, 'SIGN_ERROR', "WeChat Pay's answer is not signed by a key we know");
    }
  }

  /** The key a serial names: the WeChat Pay public key for `PUB_KEY_ID_…`, else a platform certificate. */
  private async key(serial: string): Promise<KeyObject | undefined> {
    const known = keyForSerial(serial, { publicKey: this.publicKey, certificates: this.certificates });
    if (known) return known;
    if (isPublicKeySerial(serial)) return this.mockPublicKey(serial);
    // An unknown serial (rotation, or a forged notification) fetches the list at most once a minute, one fetch at a time.
    if (Date.now() - this.certificatesFetchedAt < 60_000) return undefined;
    this.fetching ??= this.fetchCertificates().finally(() => {
      this.fetching = undefined;
    });
    await this.fetching;
    return this.certificates.get(serial.toUpperCase());
  }

  private fetching?: Promise<void>;
  private certificatesFetchedAt = 0;
  private mockPublicKeyFetchedAt = 0;

  /**
   * Sandbox mode with no public key configured: the mock's, downloaded as a merchant would from the merchant
   * platform (the sandbox's `/sandbox/wechat/public-key`), again at most once a minute when a serial is unknown.
   */
  private async mockPublicKey(serial: string): Promise<KeyObject | undefined> {
    if (!this.mockPublicKeyUrl || Date.now() - this.mockPublicKeyFetchedAt < 60_000) return undefined;
    this.downloading ??= this.downloadMockPublicKey(this.mockPublicKeyUrl).finally(() => {
      this.downloading = undefined;
    });
    await this.downloading;
    return keyForSerial(serial, { publicKey: this.publicKey, certificates: this.certificates });
  }

  private downloading?: Promise<void>;

  private async downloadMockPublicKey(url: string): Promise<void> {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
      if (!response.ok) return;
      const body = (await response.json()) as { publicKeyId?: unknown; publicKey?: unknown };
      if (typeof body.publicKeyId !== 'string' || !isPublicKeySerial(body.publicKeyId) || typeof body.publicKey !== 'string') return;
      this.publicKey = { id: body.publicKeyId, key: createPublicKey(body.publicKey) };
      this.mockPublicKeyFetchedAt = Date.now();
    } catch {
      // The mock is not answering: the signature stays unverified (refused), and the next one downloads again.
    }
  }

  private async fetchCertificates(): Promise<void> {
    const listed = await this.call<{
      data: { serial_no: string; encrypt_certificate: { ciphertext: string; associated_data: string; nonce: string } }[];
    }>('/v3/certificates');
    for (const entry of listed.data) {
      const pem = aesGcmDecrypt(this.config.apiV3Key, entry.encrypt_certificate);
      this.certificates.set(entry.serial_no.toUpperCase(), createPublicKey(pem));
    }
    this.certificatesFetchedAt = Date.now();
  }
}
