import { KeyObject, randomUUID } from 'node:crypto';
import { parseAmount } from '../../src/common/money';
import { DEV_PAYPAL_CLIENT_ID, DEV_PAYPAL_CLIENT_SECRET } from '../../src/config';
import { signedString, signTransmission } from '../../src/payments/providers/paypal/paypal-webhook-signature';
import type { Api } from './http';

/**
 * What PayPal shows the platform's account, read through PayPal's own REST API (the sandbox mock under
 * /sandbox/paypal, with the platform's client id and secret), as any PayPal client would see it. Amounts come
 * back as USD cents in decimal strings ('13674').
 */
const PREFIX = '/sandbox/paypal';

interface Money {
  value: string;
}

const cents = (money: Money): string => parseAmount(money.value.replace(/^-/, ''), 'USD').toString();

/** The platform's API client, with the app's PayPal credentials when they are not the development defaults. */
export type PaypalAccount = Api | { api: Api; clientId: string; clientSecret: string };

const tokens = new WeakMap<Api, Map<string, { value: string; expiresAt: number }>>();

async function accessToken(api: Api, clientId: string, clientSecret: string): Promise<string> {
  const cached = tokens.get(api)?.get(clientId);
  if (cached && cached.expiresAt > Date.now()) return cached.value;
  const response = await api('POST', `${PREFIX}/v1/oauth2/token`, {
    rawBody: 'grant_type=client_credentials',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
  });
  if (response.status !== 200) throw new Error(`PayPal token: ${response.status} ${response.text}`);
  if (!tokens.has(api)) tokens.set(api, new Map());
  tokens.get(api)!.set(clientId, { value: response.body.access_token, expiresAt: Date.now() + (response.body.expires_in - 60) * 1000 });
  return response.body.access_token;
}

/** One GET of PayPal's API (path after the prefix, e.g. `/v2/checkout/orders/…`); anything but a 200 throws. */
export async function paypalGet<T = any>(account: PaypalAccount, path: string): Promise<T> {
  const { api, clientId, clientSecret } =
    typeof account === 'function' ? { api: account, clientId: DEV_PAYPAL_CLIENT_ID, clientSecret: DEV_PAYPAL_CLIENT_SECRET } : account;
  const token = await accessToken(api, clientId, clientSecret);
  const response = await api('GET', `${PREFIX}${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200) throw new Error(`PayPal GET ${path}: ${response.status} ${response.text}`);
  return response.body;
}

export interface PaypalOrderPayments {
  status: string;
  /** The order's authorization, once authorized; `capturedCents` is the sum of its captures. */
  authorization: { id: string; status: string; amountCents: string; capturedCents: string; expirationTime: string } | null;
  captures: { id: string; status: string; amountCents: string }[];
  /** Each with the capture it refunds (from its `up` link). */
  refunds: { id: string; status: string; amountCents: string; captureId: string | null }[];
}

/** An order as PayPal shows it, with its authorization, that authorization's captures and their refunds, oldest first. */
export async function paypalOrder(api: PaypalAccount, orderId: string): Promise<PaypalOrderPayments> {
  const order = await paypalGet(api, `/v2/checkout/orders/${encodeURIComponent(orderId)}`);
  const payments = order.purchase_units?.[0]?.payments ?? {};
  const captures = ((payments.captures ?? []) as { id: string; status: string; amount: Money }[]).map((capture) => ({
    id: capture.id,
    status: capture.status,
    amountCents: cents(capture.amount),
  }));
  const refunds = ((payments.refunds ?? []) as { id: string; status: string; amount: Money; links: { rel: string; href: string }[] }[]).map(
    (refund) => ({
      id: refund.id,
      status: refund.status,
      amountCents: cents(refund.amount),
      captureId: /\/v2\/payments\/captures\/([^/?]+)/.exec(refund.links.find((link) => link.rel === 'up')?.href ?? '')?.[1] ?? null,
    }),
  );
  const authorization = (payments.authorizations ?? [])[0] as
    { id: string; status: string; amount: Money; expiration_time: string } | undefined;
  return {
    status: order.status,
    authorization: authorization
      ? {
          id: authorization.id,
          status: authorization.status,
          amountCents: cents(authorization.amount),
          capturedCents: captures.reduce((sum, capture) => sum + BigInt(capture.amountCents), 0n).toString(),
          expirationTime: authorization.expiration_time,
        }
      : null,
    captures,
    refunds,
  };
}

export interface PaypalPayoutItem {
  itemId: string;
  batchId: string;
  senderBatchId: string;
  senderItemId: string | null;
  receiver: string;
  amountCents: string;
  status: string;
}

export interface PaypalPayoutBatch {
  batchId: string;
  senderBatchId: string;
  status: string;
  items: PaypalPayoutItem[];
}

/**
 * Every payout batch of the account made in the last 30 days, oldest first, found as a PayPal client finds
 * them: Transaction Search (event code T0001, whose reference is the batch), then each batch by its id.
 */
export async function paypalPayoutBatches(api: PaypalAccount): Promise<PaypalPayoutBatch[]> {
  const end = new Date(Date.now() + 60 * 60 * 1000);
  const start = new Date(end.getTime() - 30 * 24 * 60 * 60 * 1000);
  const batchIds: string[] = [];
  for (let page = 1, pages = 1; page <= pages; page++) {
    const query = new URLSearchParams({
      start_date: start.toISOString(),
      end_date: end.toISOString(),
      transaction_type: 'T0001',
      page_size: '500',
      page: String(page),
    });
    const found = await paypalGet(api, `/v1/reporting/transactions?${query.toString()}`);
    pages = found.total_pages;
    for (const { transaction_info: info } of found.transaction_details as { transaction_info: { paypal_reference_id: string } }[]) {
      if (!batchIds.includes(info.paypal_reference_id)) batchIds.push(info.paypal_reference_id);
    }
  }
  const batches: PaypalPayoutBatch[] = [];
  for (const batchId of batchIds) {
    const batch = await paypalGet(api, `/v1/payments/payouts/${encodeURIComponent(batchId)}`);
    const senderBatchId: string = batch.batch_header.sender_batch_header.sender_batch_id;
    batches.push({
      batchId,
      senderBatchId,
      status: batch.batch_header.batch_status,
      items: (
        batch.items as {
          payout_item_id: string;
          transaction_status: string;
          payout_item: { receiver: string; amount: Money; sender_item_id?: string };
        }[]
      ).map((item) => ({
        itemId: item.payout_item_id,
        batchId,
        senderBatchId,
        senderItemId: item.payout_item.sender_item_id ?? null,
        receiver: item.payout_item.receiver,
        amountCents: cents(item.payout_item.amount),
        status: item.transaction_status,
      })),
    });
  }
  return batches;
}

/** The account's payout items whose `sender_item_id` is this one (or, with `{ prefix: true }`, starts with it). */
export async function paypalPayoutItems(
  api: PaypalAccount,
  senderItemId: string,
  options: { prefix?: boolean } = {},
): Promise<PaypalPayoutItem[]> {
  const matches = (id: string | null) => id !== null && (options.prefix ? id.startsWith(senderItemId) : id === senderItemId);
  return (await paypalPayoutBatches(api)).flatMap((batch) => batch.items).filter((item) => matches(item.senderItemId));
}

/** The order an authorization belongs to, as PayPal shows the authorization. */
export async function paypalOrderOfAuthorization(api: PaypalAccount, authorizationId: string): Promise<PaypalOrderPayments> {
  const authorization = await paypalGet(api, `/v2/payments/authorizations/${encodeURIComponent(authorizationId)}`);
  return paypalOrder(api, authorization.supplementary_data.related_ids.order_id);
}

/** The refunds of one capture, found through its authorization's order. */
export async function paypalRefundsOfCapture(api: PaypalAccount, captureId: string): Promise<PaypalOrderPayments['refunds']> {
  const capture = await paypalGet(api, `/v2/payments/captures/${encodeURIComponent(captureId)}`);
  const order = await paypalOrderOfAuthorization(api, capture.supplementary_data.related_ids.authorization_id);
  return order.refunds.filter((refund) => refund.captureId === captureId);
}

/**
 * Posts `raw` to the service's PayPal webhook endpoint as PayPal would: a fresh transmission id and time, signed with
 * the mock's key, its certificate served by the mock at `baseUrl`.
 */
export function postSignedPaypalWebhook(api: Api, baseUrl: string, privateKey: KeyObject | string, raw: string) {
  const transmissionId = randomUUID();
  const time = new Date().toISOString();
  return api('POST', '/v1/provider-webhooks/paypal', {
    rawBody: raw,
    headers: {
      'content-type': 'application/json',
      'paypal-transmission-id': transmissionId,
      'paypal-transmission-time': time,
      'paypal-transmission-sig': signTransmission(privateKey, signedString(transmissionId, time, 'WH-YB-SANDBOX', raw)),
      'paypal-cert-url': `${baseUrl}/sandbox/paypal/v1/notifications/certs/CERT-mock-1`,
      'paypal-auth-algo': 'SHA256withRSA',
    },
  });
}
