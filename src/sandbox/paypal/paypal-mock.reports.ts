import { Injectable } from '@nestjs/common';
import { formatAmount } from '../../common/money';
import { PaypalMockError } from './paypal-mock.errors';
import { PaypalMockPaymentsRepository } from './paypal-mock-payments.repository';
import { PaypalMockPayoutsRepository } from './paypal-mock-payouts.repository';

const MAX_RANGE_MS = 31 * 24 * 60 * 60 * 1000;
// Transaction Search's status letters: S success, P pending (an unclaimed payout is still pending), V reversed.
const STATUS_LETTER: Record<string, string> = { SUCCESS: 'S', PENDING: 'P', UNCLAIMED: 'P', RETURNED: 'V', FAILED: 'D' };

// Dates PostgreSQL can hold and PayPal would search (a far-off year would fail the query rather than be refused).
const plausible = (date: Date) => !Number.isNaN(date.getTime()) && date.getUTCFullYear() >= 1970 && date.getUTCFullYear() <= 9999;
const iso = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');
const signed = (cents: string) => formatAmount(-BigInt(cents), 'USD');

/**
 * The mock's read-only reports: a refund by id (Payments v2) and Transaction Search (`/v1/reporting/transactions`)
 * over the account's payouts, event code T0001 (Mass Payment), whose `paypal_reference_id` is the payout batch.
 * Only payouts are listed; a search for another event code finds nothing here.
 */
@Injectable()
export class PaypalMockReports {
  constructor(
    private readonly payments: PaypalMockPaymentsRepository,
    private readonly payouts: PaypalMockPayoutsRepository,
  ) {}

  async refund(base: string, id: string): Promise<Record<string, unknown>> {
    const refund = await this.payments.findRefund(id);
    if (!refund) throw PaypalMockError.notFound(id);
    return {
      id: refund.id,
      status: refund.status,
      amount: { currency_code: refund.currency, value: formatAmount(BigInt(refund.amount_cents), 'USD') },
      create_time: iso(refund.create_time),
      update_time: iso(refund.create_time),
      links: [
        { href: `${base}/v2/payments/refunds/${refund.id}`, rel: 'self', method: 'GET' },
        { href: `${base}/v2/payments/captures/${refund.capture_id}`, rel: 'up', method: 'GET' },
      ],
    };
  }

  async searchTransactions(base: string, query: Record<string, string | undefined>): Promise<Record<string, unknown>> {
    const start = new Date(query.start_date ?? '');
    const end = new Date(query.end_date ?? '');
    if (!plausible(start) || !plausible(end))
      throw PaypalMockError.invalid('INVALID_REQUEST', 'start_date and end_date are required, in Internet date and time format.');
    if (end < start || end.getTime() - start.getTime() > MAX_RANGE_MS)
      throw PaypalMockError.invalid('INVALID_DATE_RANGE', 'end_date must follow start_date, at most 31 days later.');
    const pageSize = Number(query.page_size ?? 100);
    const page = Number(query.page ?? 1);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 500 || !Number.isInteger(page) || page < 1 || page > 10000)
      throw PaypalMockError.invalid('INVALID_PARAMETER_VALUE', 'page_size is 1 to 500 and page 1 to 10000.');
    const type = query.transaction_type;
    if (type !== undefined && type !== 'T0001') return this.page(base, query, start, end, page, pageSize, 0, []);
    const { total, rows } = await this.payouts.searchItems(start, end, pageSize, (page - 1) * pageSize);
    const details = rows.map((row) => ({
      transaction_info: {
        paypal_account_id: 'YBMOCKACCOUNT',
        transaction_id: row.transaction_id ?? row.id,
        paypal_reference_id: row.batch_id,
        paypal_reference_id_type: 'TXN',
        transaction_event_code: 'T0001',
        transaction_initiation_date: iso(row.create_time),
        transaction_updated_date: iso(row.time_processed ?? row.create_time),
        transaction_amount: { currency_code: 'USD', value: signed(row.amount_cents) },
        fee_amount: { currency_code: 'USD', value: signed(row.fee_cents) },
        transaction_status: STATUS_LETTER[row.status] ?? 'P',
      },
    }));
    return this.page(base, query, start, end, page, pageSize, total, details);
  }

  private page(
    base: string,
    query: Record<string, string | undefined>,
    start: Date,
    end: Date,
    page: number,
    pageSize: number,
    totalItems: number,
    details: unknown[],
  ): Record<string, unknown> {
    const self = new URLSearchParams(Object.entries(query).filter((entry): entry is [string, string] => entry[1] !== undefined));
    return {
      transaction_details: details,
      account_number: 'YBMOCKACCOUNT',
      start_date: iso(start),
      end_date: iso(end),
      last_refreshed_datetime: iso(new Date()),
      page,
      total_items: totalItems,
      total_pages: Math.max(1, Math.ceil(totalItems / pageSize)),
      links: [{ href: `${base}/v1/reporting/transactions?${self.toString()}`, rel: 'self', method: 'GET' }],
    };
  }
}
