import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { paypalConfig } from '../../config';
import { PaypalMockError, PaypalOAuthError } from './paypal-mock.errors';
import { PaypalMockRepository } from './paypal-mock.repository';

const KNOWN_TOKENS_MAX = 10000;

/** The PayPal mock's OAuth: client credentials in, bearer tokens out, and every API call's token checked. */
@Injectable()
export class PaypalMockOAuth {
  /** Tokens known valid in this process, and until when. */
  private readonly knownTokens = new Map<string, number>();

  constructor(
    private readonly repository: PaypalMockRepository,
    @Inject(paypalConfig.KEY) private readonly config: ConfigType<typeof paypalConfig>,
  ) {}

  async issueToken(authorization: string | undefined, grantType: unknown): Promise<Record<string, unknown>> {
    const [scheme, encoded] = (authorization ?? '').split(' ');
    const decoded = scheme === 'Basic' && encoded ? Buffer.from(encoded, 'base64').toString('utf8') : '';
    const separator = decoded.indexOf(':');
    const clientId = decoded.slice(0, separator);
    const secret = decoded.slice(separator + 1);
    if (separator < 0 || !this.same(clientId, this.config.clientId) || !this.same(secret, this.config.clientSecret)) {
      throw new PaypalOAuthError(401, 'invalid_client', 'Client Authentication failed');
    }
    if (grantType !== 'client_credentials') throw new PaypalOAuthError(400, 'unsupported_grant_type', 'Grant Type is NULL');
    const token = `A21AA${randomBytes(32).toString('base64url')}`;
    const expiresIn = 32400;
    await this.repository.insertToken(token, clientId, expiresIn);
    this.knownTokens.set(token, Date.now() + expiresIn * 1000);
    return {
      scope: 'https://uri.paypal.com/services/payments/payment https://uri.paypal.com/services/payments/refund',
      access_token: token,
      token_type: 'Bearer',
      app_id: 'APP-YB-SANDBOX',
      expires_in: expiresIn,
      nonce: `${new Date().toISOString()}${randomBytes(8).toString('hex')}`,
    };
  }

  private same(a: string, b: string): boolean {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  }

  /** Every call presents a token: one this process issued or already found is checked without a round trip. */
  async authenticate(authorization: string | undefined): Promise<void> {
    const [scheme, token] = (authorization ?? '').split(' ');
    if (scheme !== 'Bearer' || !token) throw PaypalMockError.unauthenticated();
    if ((this.knownTokens.get(token) ?? 0) > Date.now()) return;
    const expiresInMs = await this.repository.tokenExpiresInMs(token);
    if (expiresInMs === undefined) throw PaypalMockError.unauthenticated();
    // Tokens are never revoked, only expire; clients hold a handful each, so the map stays small.
    if (this.knownTokens.size >= KNOWN_TOKENS_MAX) this.knownTokens.clear();
    this.knownTokens.set(token, Date.now() + expiresInMs);
  }
}
