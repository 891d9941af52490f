import type { PaypalConfig } from '../../../config';
import { ProviderRequest, providerRequest, ProviderResponse } from '../provider-http';
import { PaypalApiError } from './paypal.port';

const TIMEOUT_MS = 10000;
// Renew the token this long before PayPal says it expires.
const TOKEN_MARGIN_MS = 60000;

/**
 * How the platform talks to PayPal's REST API, for every PayPal client it has: an OAuth2 client-credentials
 * token cached and renewed once when PayPal stops accepting it, a 10 s timeout, JSON in and out, and PayPal's
 * refusals as `PaypalApiError` (its error name, first issue and HATEOAS links). Each client keeps its own
 * instance, so its own token: reconciliation's reads never wait behind settlement's calls.
 */
export class PaypalHttp {
  private token?: { value: string; expiresAt: number };

  constructor(private readonly config: Pick<PaypalConfig, 'baseUrl' | 'clientId' | 'clientSecret'>) {}

  /** One call with a Bearer token; null for a 204. */
  async request<T>(method: string, path: string, options: { body?: unknown; requestId?: string; json?: boolean } = {}): Promise<T | null> {
    const attempt = async () =>
      this.send(path, {
        method,
        headers: {
          authorization: `Bearer ${await this.accessToken()}`,
          ...(method === 'GET' ? {} : { 'content-type': 'application/json', prefer: 'return=representation' }),
          ...(options.requestId ? { 'paypal-request-id': options.requestId } : {}),
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    let response: ProviderResponse;
    try {
      response = await attempt();
    } catch (error) {
      // A token PayPal no longer accepts is fetched anew once.
      if (!(error instanceof PaypalApiError) || error.status !== 401) throw error;
      this.token = undefined;
      response = await attempt();
    }
    if (response.status === 204) return null;
    return JSON.parse(response.text) as T;
  }

  private async accessToken(): Promise<string> {
    if (this.token && this.token.expiresAt > Date.now()) return this.token.value;
    const response = await this.send('/v1/oauth2/token', {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${this.config.clientId}:${this.config.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    const body = JSON.parse(response.text) as { access_token: string; expires_in: number };
    this.token = { value: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 - TOKEN_MARGIN_MS };
    return body.access_token;
  }

  private async send(path: string, init: Omit<ProviderRequest, 'timeoutMs'>): Promise<ProviderResponse> {
    let response: ProviderResponse;
    try {
      response = await providerRequest(`${this.config.baseUrl}${path}`, { ...init, timeoutMs: TIMEOUT_MS });
    } catch (error) {
      throw new PaypalApiError(0, 'NETWORK_ERROR', null, `PayPal could not be reached: ${(error as Error).message}`);
    }
    if (response.ok) return response;
    const text = response.text;
    let body: {
      name?: string;
      error?: string;
      message?: string;
      error_description?: string;
      details?: { issue?: string }[];
      links?: { href: string; rel: string }[];
    } = {};
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the status
    }
    throw new PaypalApiError(
      response.status,
      body.name ?? body.error ?? `HTTP_${response.status}`,
      body.details?.[0]?.issue ?? null,
      body.message ?? body.error_description ?? `PayPal answered ${response.status}`,
      Array.isArray(body.links) ? body.links.filter((link) => typeof link?.href === 'string' && typeof link?.rel === 'string') : [],
    );
  }
}
