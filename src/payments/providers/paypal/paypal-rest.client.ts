import { Inject, Injectable, Optional } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { formatAmount, parseAmount } from '../../../common/money';
import { paypalConfig } from '../../../config';
import { ProviderHealth } from '../../../provider-health/provider-health.service';
import { PaypalHttp } from './paypal-http';
import { PaypalApiError, PaypalAuthorization, PaypalCapture, PaypalOrder, PaypalPayout, PaypalPort } from './paypal.port';

interface OrderBody {
  id: string;
  status: string;
  links?: { href: string; rel: string }[];
  payer?: { email_address?: string };
  purchase_units?: {
    amount?: { value?: string };
    payments?: { authorizations?: { id: string }[]; captures?: CaptureBody[]; refunds?: RefundBody[] };
  }[];
}

interface CaptureBody {
  id: string;
  status: string;
  amount: { value: string };
  seller_receivable_breakdown?: { paypal_fee?: { value: string } };
}

interface RefundBody {
  id: string;
  status: string;
  amount: { value: string };
  links?: { href: string; rel: string }[];
}

function toCapture(body: CaptureBody): PaypalCapture {
  return {
    captureId: body.id,
    status: body.status,
    amountUsd: parseAmount(body.amount.value, 'USD'),
    paypalFeeUsd: body.seller_receivable_breakdown?.paypal_fee ? parseAmount(body.seller_receivable_breakdown.paypal_fee.value, 'USD') : 0n,
  };
}

/**
 * A small PayPal REST client. Why not the official @paypal/paypal-server-sdk: it has no payouts, its base URL
 * can only be changed by subclassing its client, and its token cache is process-wide; one fetch-based
 * client covers orders, payments and (later) payouts with the same code against PayPal or the sandbox mock,
 * which differ only in PAYPAL_BASE_URL. The SDK still drives the mock in the conformance tests.
 */
@Injectable()
export class PaypalRestClient implements PaypalPort {
  private readonly http: PaypalHttp;

  constructor(
    @Inject(paypalConfig.KEY) private readonly config: ConfigType<typeof paypalConfig>,
    // Absent when the client is built by hand (conformance tests): then nothing is reported.
    @Optional() private readonly health?: ProviderHealth,
  ) {
    this.http = new PaypalHttp(config);
  }

  /** Every call's outcome feeds PayPal's health: a 5xx or a network failure is PayPal failing, any other answer is PayPal up. */
  private async call<T>(method: string, path: string, options: { body?: unknown; requestId?: string } = {}): Promise<T | null> {
    try {
      const result = await this.http.request<T>(method, path, options);
      await this.health?.succeeded('paypal');
      return result;
    } catch (error) {
      if (error instanceof PaypalApiError && error.retryable && error.status !== 429) await this.health?.failed('paypal');
      else if (error instanceof PaypalApiError) await this.health?.succeeded('paypal');
      throw error;
    }
  }

  private toOrder(body: OrderBody): PaypalOrder {
    const unit = body.purchase_units?.[0];
    return {
      orderId: body.id,
      status: body.status,
      approveUrl: body.links?.find((l) => l.rel === 'approve' || l.rel === 'payer-action')?.href ?? null,
      amountUsd: unit?.amount?.value ? parseAmount(unit.amount.value, 'USD') : 0n,
      payerEmail: body.payer?.email_address ?? null,
      authorizationId: unit?.payments?.authorizations?.[0]?.id ?? null,
      captures: (unit?.payments?.captures ?? []).map(toCapture),
      refunds: (unit?.payments?.refunds ?? []).map((refund) => ({
        refundId: refund.id,
        // A refund links up to its capture.
        captureId:
          refund.links
            ?.find((link) => link.rel === 'up')
            ?.href.split('/')
            .pop() ?? '',
        status: refund.status,
        amountUsd: parseAmount(refund.amount.value, 'USD'),
      })),
    };
  }

  async createOrder(input: {
    amountUsd: bigint;
    referenceId: string;
    requestId: string;
    returnUrl?: string;
    cancelUrl?: string;
  }): Promise<PaypalOrder> {
    const body = await this.call<OrderBody>('POST', '/v2/checkout/orders', {
      requestId: input.requestId,
      body: {
        intent: 'AUTHORIZE',
        purchase_units: [
          { reference_id: input.referenceId, amount: { currency_code: 'USD', value: formatAmount(input.amountUsd, 'USD') } },
        ],
        ...(input.returnUrl || input.cancelUrl
          ? { payment_source: { paypal: { experience_context: { return_url: input.returnUrl, cancel_url: input.cancelUrl } } } }
          : {}),
      },
    });
    return this.toOrder(body!);
  }

  async getOrder(orderId: string): Promise<PaypalOrder> {
    return this.toOrder((await this.call<OrderBody>('GET', `/v2/checkout/orders/${encodeURIComponent(orderId)}`))!);
  }

  async authorizeOrder(orderId: string, requestId: string): Promise<PaypalOrder> {
    return this.toOrder(
      (await this.call<OrderBody>('POST', `/v2/checkout/orders/${encodeURIComponent(orderId)}/authorize`, { requestId }))!,
    );
  }

  async getAuthorization(authorizationId: string): Promise<PaypalAuthorization> {
    const body = (await this.call<{ id: string; status: string; amount: { value: string }; expiration_time?: string }>(
      'GET',
      `/v2/payments/authorizations/${encodeURIComponent(authorizationId)}`,
    ))!;
    return {
      authorizationId: body.id,
      status: body.status,
      amountUsd: parseAmount(body.amount.value, 'USD'),
      expiresAt: body.expiration_time ? new Date(body.expiration_time) : null,
    };
  }

  async captureAuthorization(authorizationId: string, requestId: string, amountUsd?: bigint): Promise<PaypalCapture> {
    const body = (await this.call<CaptureBody>('POST', `/v2/payments/authorizations/${encodeURIComponent(authorizationId)}/capture`, {
      requestId,
      body: {
        final_capture: true,
        ...(amountUsd !== undefined ? { amount: { currency_code: 'USD', value: formatAmount(amountUsd, 'USD') } } : {}),
      },
    }))!;
    return toCapture(body);
  }

  async voidAuthorization(authorizationId: string, requestId: string): Promise<void> {
    await this.call('POST', `/v2/payments/authorizations/${encodeURIComponent(authorizationId)}/void`, { requestId });
  }

  async refundCapture(captureId: string, requestId: string, amountUsd?: bigint): Promise<{ refundId: string; status: string }> {
    const body = (await this.call<{ id: string; status: string }>('POST', `/v2/payments/captures/${encodeURIComponent(captureId)}/refund`, {
      requestId,
      body: amountUsd !== undefined ? { amount: { currency_code: 'USD', value: formatAmount(amountUsd, 'USD') } } : {},
    }))!;
    return { refundId: body.id, status: body.status };
  }

  async createPayout(input: { senderBatchId: string; receiverEmail: string; amountUsd: bigint; note: string }): Promise<PaypalPayout> {
    try {
      const body = (await this.call<{ batch_header: { payout_batch_id: string; batch_status: string } }>('POST', '/v1/payments/payouts', {
        requestId: input.senderBatchId,
        body: {
          sender_batch_header: {
            sender_batch_id: input.senderBatchId,
            email_subject: 'You have a payout from Yuanbridge',
            recipient_type: 'EMAIL',
          },
          items: [
            {
              recipient_type: 'EMAIL',
              amount: { value: formatAmount(input.amountUsd, 'USD'), currency: 'USD' },
              receiver: input.receiverEmail,
              sender_item_id: input.senderBatchId,
              note: input.note,
            },
          ],
        },
      }))!;
      return this.getPayoutBatch(body.batch_header.payout_batch_id);
    } catch (error) {
      // The batch exists already (an earlier attempt made it, its answer lost, and the request id no longer
      // replays): PayPal refuses the sender_batch_id with a link to the first batch, which is the payout.
      const duplicate =
        error instanceof PaypalApiError &&
        error.errorName === 'USER_BUSINESS_ERROR' &&
        (error.issue === 'DUPLICATE_SENDER_BATCH_ID' || /sender_batch_id/i.test(error.message));
      if (duplicate) {
        const first = firstBatchId(error.links, this.config.baseUrl);
        if (first) return this.getPayoutBatch(first);
        throw new PaypalApiError(409, 'DUPLICATE_SENDER_BATCH_ID', error.issue, error.message);
      }
      throw error;
    }
  }

  async getPayoutBatch(batchId: string): Promise<PaypalPayout> {
    const body = (await this.call<{
      batch_header: { payout_batch_id: string; batch_status: string };
      items?: { payout_item_id: string; transaction_status: string; payout_item_fee?: { value: string } }[];
    }>('GET', `/v1/payments/payouts/${encodeURIComponent(batchId)}`))!;
    const item = body.items?.[0];
    return {
      batchId: body.batch_header.payout_batch_id,
      batchStatus: body.batch_header.batch_status,
      itemId: item?.payout_item_id ?? null,
      itemStatus: item?.transaction_status ?? null,
      feeUsd: item?.payout_item_fee ? parseAmount(item.payout_item_fee.value, 'USD') : 0n,
    };
  }
}

/** The batch id a duplicate sender_batch_id's refusal links to, if the link is PayPal's own batch path. */
export function firstBatchId(links: { href: string; rel: string }[], baseUrl: string): string | null {
  for (const link of links) {
    if (link.rel === 'information_link') continue;
    let url: URL;
    try {
      url = new URL(link.href, baseUrl);
    } catch {
      continue;
    }
    const match = /\/v1\/payments\/payouts\/([A-Za-z0-9_-]{1,64})$/.exec(url.pathname);
    if (match) return match[1];
  }
  return null;
}
