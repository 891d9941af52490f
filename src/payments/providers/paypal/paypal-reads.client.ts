import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { parseAmount } from '../../../common/money';
import { paypalConfig } from '../../../config';
import { PaypalHttp } from './paypal-http';
import { PaypalAuthorization, PaypalCapture } from './paypal.port';
import { PaypalPayoutBatch, PaypalReadPort, PaypalRefund, PaypalTransaction } from './paypal-reads.port';

interface Money {
  value: string;
}

/** PayPal amounts may carry a sign (Transaction Search shows money out as negative): the size, in cents. */
const cents = (money: Money | undefined): bigint => (money?.value ? parseAmount(money.value.replace(/^-/, ''), 'USD') : 0n);

/**
 * PayPal's read endpoints for reconciliation, against PayPal or the sandbox mock alike (PAYPAL_BASE_URL). Its
 * own token, so reconciliation never waits behind settlement's calls; GETs only, never a PayPal-Request-Id.
 */
@Injectable()
export class PaypalReadsClient implements PaypalReadPort {
  private readonly http: PaypalHttp;

  constructor(@Inject(paypalConfig.KEY) config: ConfigType<typeof paypalConfig>) {
    this.http = new PaypalHttp(config);
  }

  async getAuthorization(authorizationId: string): Promise<PaypalAuthorization> {
    const body = await this.get<{ id: string; status: string; amount: Money; expiration_time?: string }>(
      `/v2/payments/authorizations/${encodeURIComponent(authorizationId)}`,
    );
    return {
      authorizationId: body.id,
      status: body.status,
      amountUsd: cents(body.amount),
      expiresAt: body.expiration_time ? new Date(body.expiration_time) : null,
    };
  }

  async getCapture(captureId: string): Promise<PaypalCapture> {
    const body = await this.get<{ id: string; status: string; amount: Money; seller_receivable_breakdown?: { paypal_fee?: Money } }>(
      `/v2/payments/captures/${encodeURIComponent(captureId)}`,
    );
    return {
      captureId: body.id,
      status: body.status,
      amountUsd: cents(body.amount),
      paypalFeeUsd: cents(body.seller_receivable_breakdown?.paypal_fee),
    };
  }

  async getRefund(refundId: string): Promise<PaypalRefund> {
    const body = await this.get<{ id: string; status: string; amount: Money; links?: { href: string; rel: string }[] }>(
      `/v2/payments/refunds/${encodeURIComponent(refundId)}`,
    );
    const up = body.links?.find((link) => link.rel === 'up')?.href ?? '';
    return {
      refundId: body.id,
      status: body.status,
      amountUsd: cents(body.amount),
      captureId: /\/v2\/payments\/captures\/([^/?]+)/.exec(up)?.[1] ?? null,
    };
  }

  async getPayoutBatchItems(batchId: string): Promise<PaypalPayoutBatch> {
    const body = await this.get<{
      batch_header: {
        payout_batch_id: string;
        batch_status: string;
        time_created?: string;
        sender_batch_header?: { sender_batch_id?: string };
      };
      items?: {
        payout_item_id: string;
        transaction_status: string;
        payout_item_fee?: Money;
        payout_item?: { amount?: Money; sender_item_id?: string };
      }[];
    }>(`/v1/payments/payouts/${encodeURIComponent(batchId)}?page=1&page_size=1000&total_required=true`);
    return {
      batchId: body.batch_header.payout_batch_id,
      batchStatus: body.batch_header.batch_status,
      senderBatchId: body.batch_header.sender_batch_header?.sender_batch_id ?? null,
      createdAt: body.batch_header.time_created ? new Date(body.batch_header.time_created) : null,
      items: (body.items ?? []).map((item) => ({
        itemId: item.payout_item_id,
        status: item.transaction_status,
        amountUsd: cents(item.payout_item?.amount),
        feeUsd: cents(item.payout_item_fee),
        senderItemId: item.payout_item?.sender_item_id ?? null,
      })),
    };
  }

  async searchTransactions(input: {
    start: Date;
    end: Date;
    eventCode: string;
    page: number;
    pageSize: number;
  }): Promise<{ transactions: PaypalTransaction[]; totalPages: number }> {
    const query = new URLSearchParams({
      start_date: input.start.toISOString(),
      end_date: input.end.toISOString(),
      transaction_type: input.eventCode,
      fields: 'transaction_info',
      page_size: String(input.pageSize),
      page: String(input.page),
    });
    const body = await this.get<{
      transaction_details?: {
        transaction_info: {
          transaction_id: string;
          transaction_event_code: string;
          paypal_reference_id?: string;
          transaction_status: string;
          transaction_amount?: Money;
          transaction_initiation_date: string;
        };
      }[];
      total_pages?: number;
    }>(`/v1/reporting/transactions?${query.toString()}`);
    return {
      transactions: (body.transaction_details ?? []).map(({ transaction_info: info }) => ({
        transactionId: info.transaction_id,
        eventCode: info.transaction_event_code,
        referenceId: info.paypal_reference_id ?? null,
        status: info.transaction_status,
        amountUsd: cents(info.transaction_amount),
        initiatedAt: new Date(info.transaction_initiation_date),
      })),
      totalPages: body.total_pages ?? 1,
    };
  }

  private async get<T>(path: string): Promise<T> {
    return (await this.http.request<T>('GET', path))!;
  }
}
