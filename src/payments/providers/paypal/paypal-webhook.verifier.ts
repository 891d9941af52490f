import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { KeyObject, X509Certificate } from 'node:crypto';
import { paypalConfig } from '../../../config';
import { signedString, verifyTransmission } from './paypal-webhook-signature';

export type WebhookVerdict = { ok: true } | { ok: false; reason: string };

const STALE_AFTER_MS = 5 * 60 * 1000;
const CERT_CACHE_LIMIT = 20;

/**
 * Checks a PayPal webhook the way PayPal documents self-verification: the certificate comes only from a
 * trusted host (configuration: PayPal's hosts in production, the mock's in sandbox mode), the transmission
 * is fresh (5 minutes either way), and the RSA-SHA256 signature covers `id|time|webhookId|crc32(raw body)`.
 */
/** A certificate that was fetched but does not parse. */
class UnreadableCertificate extends Error {}

/** A fetched certificate, parsed once: its public key and when it is valid. */
interface TrustedCertificate {
  publicKey: KeyObject;
  validFrom: number;
  validTo: number;
}

@Injectable()
export class PaypalWebhookVerifier {
  private readonly certificates = new Map<string, Promise<TrustedCertificate>>();

  constructor(@Inject(paypalConfig.KEY) private readonly config: ConfigType<typeof paypalConfig>) {}

  async verify(headers: Record<string, string | string[] | undefined>, rawBody: Buffer, now = Date.now()): Promise<WebhookVerdict> {
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
    let url: URL;
    try {
      url = new URL(certUrl);
    } catch {
      return { ok: false, reason: 'bad certificate URL' };
    }
    if (!this.trusted(url)) return { ok: false, reason: 'untrusted certificate host' };
    // A certificate is named by its path alone: no query or fragment to make each request fetch anew.
    if (url.search || url.hash || url.username || url.password) return { ok: false, reason: 'bad certificate URL' };
    let certificate: TrustedCertificate;
    try {
      certificate = await this.certificate(url.toString());
    } catch (error) {
      return { ok: false, reason: error instanceof UnreadableCertificate ? 'certificate unreadable' : 'certificate unavailable' };
    }
    if (certificate.validFrom > now || certificate.validTo < now) return { ok: false, reason: 'certificate not valid now' };
    const message = signedString(transmissionId, transmissionTime, this.config.webhookId, rawBody);
    return verifyTransmission(certificate.publicKey, message, signature) ? { ok: true } : { ok: false, reason: 'bad signature' };
  }

  /** Exact hosts, or `*.paypal.com` style suffixes; https only, except for the loopback mock. */
  private trusted(url: URL): boolean {
    const host = url.hostname;
    const loopback = host === '127.0.0.1' || host === 'localhost' || host === '::1';
    if (url.protocol !== 'https:' && !loopback) return false;
    return this.config.certHosts.some((allowed) => (allowed.startsWith('*.') ? host.endsWith(allowed.slice(1)) : host === allowed));
  }

  /** Fetched and parsed once per URL (every webhook names one): parsing a certificate and importing its key cost ten verifies. */
  private certificate(url: string): Promise<TrustedCertificate> {
    let cached = this.certificates.get(url);
    if (!cached) {
      if (this.certificates.size >= CERT_CACHE_LIMIT) this.certificates.clear();
      // No redirects: the trusted-host check covers the one host asked.
      cached = fetch(url, { redirect: 'error', signal: AbortSignal.timeout(5000) }).then(async (response) => {
        if (!response.ok) throw new Error(`certificate answered ${response.status}`);
        const pem = await response.text();
        try {
          const parsed = new X509Certificate(pem);
          return { publicKey: parsed.publicKey, validFrom: Date.parse(parsed.validFrom), validTo: Date.parse(parsed.validTo) };
        } catch {
          throw new UnreadableCertificate();
        }
      });
      cached.catch(() => this.certificates.delete(url));
      this.certificates.set(url, cached);
    }
    return cached;
  }
}
