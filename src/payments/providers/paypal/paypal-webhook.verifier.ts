import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { KeyObject, X509Certificate } from 'node:crypto';
import { appConfig, mockBase, paypalConfig, sandboxConfig } from '../../../config';
import { signedString, verifyTransmission } from './paypal-webhook-signature';

export type WebhookVerdict = { ok: true } | { ok: false; reason: string };

const STALE_AFTER_MS = 5 * 60 * 1000;
const CERT_CACHE_LIMIT = 20;
const CERT_FETCH_TIMEOUT_MS = 3000;
/** A PEM certificate (PayPal's chain included) is a few kilobytes. */
const CERT_MAX_BYTES = 16 * 1024;
const CERT_PATH = '/v1/notifications/certs/';
const CERT_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The hosts PayPal serves webhook certificates from, over https only: live, and its sandbox's. */
export const PAYPAL_CERT_HOSTS = ['api.paypal.com', 'api-m.paypal.com'];
export const PAYPAL_SANDBOX_CERT_HOSTS = ['api.sandbox.paypal.com', 'api-m.sandbox.paypal.com'];
/** A certificate that could not be had is not asked for again this soon: a stream of made-up ids costs PayPal one call each, not one per webhook. */
const CERT_FAILURE_MEMORY_MS = 60 * 1000;

/** A certificate that could not be had (any reason: closed port, timeout, redirect, too large, not a certificate). */
class CertificateUnavailable extends Error {}

/** A fetched certificate, parsed once: its public key and when it is valid. */
interface TrustedCertificate {
  publicKey: KeyObject;
  validFrom: number;
  validTo: number;
}

/**
 * Checks a PayPal webhook the way PayPal documents self-verification, everything that needs no network first:
 * the headers are there, the algorithm is PayPal's, the transmission is fresh (5 minutes either way), a webhook
 * id is configured, the event parses, and the certificate URL is one of PayPal's own (`https://api.paypal.com/
 * v1/notifications/certs/<id>` and the sandbox's) or, in sandbox mode, the mock's under `SANDBOX_BASE_URL`.
 * Only then is the certificate fetched (cached by URL; short timeout, no redirects, capped size), and the
 * RSA-SHA256 signature over `id|time|webhookId|crc32(raw body)` checked. The reason of a refusal is for the
 * debug log only: the caller is told the same thing whatever went wrong.
 */
@Injectable()
export class PaypalWebhookVerifier {
  private readonly logger = new Logger(PaypalWebhookVerifier.name);
  private readonly certificates = new Map<string, Promise<TrustedCertificate>>();
  private readonly certPrefixes: string[];

  constructor(
    @Inject(paypalConfig.KEY) private readonly config: ConfigType<typeof paypalConfig>,
    @Inject(appConfig.KEY) app: ConfigType<typeof appConfig>,
    @Inject(sandboxConfig.KEY) sandbox: ConfigType<typeof sandboxConfig>,
  ) {
    // Live PayPal's certificates for a live account, the sandbox's for a sandbox account: never both.
    const sandboxAccount = PAYPAL_SANDBOX_CERT_HOSTS.includes(new URL(config.baseUrl).hostname);
    this.certPrefixes = [
      ...(sandboxAccount ? PAYPAL_SANDBOX_CERT_HOSTS : PAYPAL_CERT_HOSTS).map((host) => `https://${host}${CERT_PATH}`),
      ...(app.sandbox ? [`${mockBase(sandbox.baseUrl, 'paypal')}${CERT_PATH}`] : []),
    ];
  }

  async verify(headers: Record<string, string | string[] | undefined>, rawBody: Buffer, now = Date.now()): Promise<WebhookVerdict> {
    const verdict = await this.check(headers, rawBody, now);
    if (!verdict.ok) this.logger.debug(`PayPal webhook refused: ${verdict.reason}`);
    return verdict;
  }

  private async check(headers: Record<string, string | string[] | undefined>, rawBody: Buffer, now: number): Promise<WebhookVerdict> {
    const header = (name: string) => {
      const value = headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const transmissionId = header('paypal-transmission-id');
    const transmissionTime = header('paypal-transmission-time');
    const signature = header('paypal-transmission-sig');
    const certUrl = header('paypal-cert-url');
    if (!transmissionId || !transmissionTime || !signature || !certUrl) return { ok: false, reason: 'unsigned' };
    if (header('paypal-auth-algo') !== 'SHA256withRSA') return { ok: false, reason: 'unknown algorithm' };
    const sentAt = Date.parse(transmissionTime);
    if (Number.isNaN(sentAt) || Math.abs(now - sentAt) > STALE_AFTER_MS) return { ok: false, reason: 'stale' };
    if (!this.config.webhookId) return { ok: false, reason: 'no webhook id configured' };
    if (!parsesAsEvent(rawBody)) return { ok: false, reason: 'unreadable event' };
    const url = this.trustedCertUrl(certUrl);
    if (!url) return { ok: false, reason: 'untrusted certificate URL' };
    let certificate: TrustedCertificate;
    try {
      certificate = await this.certificate(url);
    } catch {
      return { ok: false, reason: 'certificate unavailable' };
    }
    if (certificate.validFrom > now || certificate.validTo < now) return { ok: false, reason: 'certificate not valid now' };
    const message = signedString(transmissionId, transmissionTime, this.config.webhookId, rawBody);
    return verifyTransmission(certificate.publicKey, message, signature) ? { ok: true } : { ok: false, reason: 'bad signature' };
  }

  /**
   * The URL, normalized, if it names a certificate under an allowed prefix: no credentials, query or fragment
   * (each request would fetch anew), and a plain certificate id after the prefix (no other path at that host).
   */
  private trustedCertUrl(value: string): string | undefined {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return undefined;
    }
    if (url.username || url.password || url.search || url.hash) return undefined;
    const href = url.href;
    const prefix = this.certPrefixes.find((allowed) => href.startsWith(allowed));
    return prefix && CERT_ID.test(href.slice(prefix.length)) ? href : undefined;
  }

  /** Fetched and parsed once per URL (every webhook names one): parsing a certificate and importing its key cost ten verifies. */
  private certificate(url: string): Promise<TrustedCertificate> {
    let cached = this.certificates.get(url);
    if (!cached) {
      if (this.certificates.size >= CERT_CACHE_LIMIT) this.certificates.clear();
      cached = fetchCertificate(url);
      cached.catch(() => setTimeout(() => this.certificates.delete(url), CERT_FAILURE_MEMORY_MS).unref());
      this.certificates.set(url, cached);
    }
    return cached;
  }
}

function parsesAsEvent(rawBody: Buffer): boolean {
  try {
    const event = JSON.parse(rawBody.toString('utf8')) as { id?: unknown; event_type?: unknown } | null;
    return typeof event?.id === 'string' && typeof event.event_type === 'string';
  } catch {
    return false;
  }
}

/** One GET, no redirects (the allow-list covers the URL asked, not where it points), a few seconds, a few kilobytes. */
async function fetchCertificate(url: string): Promise<TrustedCertificate> {
  let pem: string;
  try {
    const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(CERT_FETCH_TIMEOUT_MS) });
    if (response.status !== 200) throw new CertificateUnavailable();
    pem = await readCapped(response, CERT_MAX_BYTES);
  } catch {
    throw new CertificateUnavailable();
  }
  try {
    const parsed = new X509Certificate(pem);
    return { publicKey: parsed.publicKey, validFrom: Date.parse(parsed.validFrom), validTo: Date.parse(parsed.validTo) };
  } catch {
    throw new CertificateUnavailable();
  }
}

async function readCapped(response: Response, limit: number): Promise<string> {
  if (Number(response.headers.get('content-length') ?? 0) > limit || !response.body) {
    await response.body?.cancel();
    throw new CertificateUnavailable();
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new CertificateUnavailable();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
