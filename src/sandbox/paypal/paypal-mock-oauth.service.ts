import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { DataSource } from 'typeorm';
import { paypalConfig } from '../../config';
import { PaypalMockError, PaypalOAuthError } from './paypal-mock.errors';

const KNOWN_TOKENS_MAX = 10000;

/** The PayPal mock's OAuth: client credentials in, bearer tokens out, and every API call's token checked. */
@Injectable()
export class PaypalMockOAuth {
  /** Tokens known valid in this process, and until when. */
  private readonly knownTokens = new Map<string, number>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
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
    await this.dataSource.query(
      `INSERT INTO paypal_mock_tokens (token, client_id, expires_at) VALUES ($1, $2, now() + $3 * interval '1 second')`,
      [token, clientId, expiresIn],
    );
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
    const rows: { expires_in_ms: number }[] = await this.dataSource.query(
      `SELECT (extract(epoch FROM expires_at - now()) * 1000)::bigint AS expires_in_ms FROM paypal_mock_tokens WHERE token = $1 AND expires_at > now()`,
      [token],
    );
    if (rows.length === 0) throw PaypalMockError.unauthenticated();
    // Tokens are never revoked, only expire; clients hold a handful each, so the map stays small.
    if (this.knownTokens.size >= KNOWN_TOKENS_MAX) this.knownTokens.clear();
    this.knownTokens.set(token, Date.now() + Number(rows[0].expires_in_ms));
  }
}
