import { randomBytes } from 'node:crypto';
import { formatAmount, MoneyFormatError, parseAmount } from '../../common/money';
import { PaypalMockError } from './paypal-mock.errors';

const ID_ALPHABET = 'ABCDEFGHJKLMNPRSTUVWXYZ0123456789';

/** PayPal-like ids: 17 upper-case letters and digits. */
export function paypalId(): string {
  return Array.from(randomBytes(17), (b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('');
}

export interface OrderRow {
  id: string;
  intent: string;
  status: string;
  amount_cents: string;
  currency: string;
  purchase_units: Record<string, unknown>[];
  return_url: string | null;
  cancel_url: string | null;
  payer: Record<string, unknown> | null;
  create_time: Date;
  update_time: Date;
}

export interface AuthorizationRow {
  id: string;
  order_id: string;
  status: string;
  amount_cents: string;
  captured_cents: string;
  currency: string;
  honor_expires_at: Date;
  expiration_time: Date;
  create_time: Date;
  update_time: Date;
}

export interface CaptureRow {
  id: string;
  authorization_id: string;
  status: string;
  amount_cents: string;
  refunded_cents: string;
  currency: string;
  final_capture: boolean;
  create_time: Date;
  update_time: Date;
}

export interface RefundRow {
  id: string;
  capture_id: string;
  status: string;
  amount_cents: string;
  currency: string;
  create_time: Date;
}

/** A PayPal amount's value as cents, refused PayPal's way unless it is a positive decimal with at most 2 decimals. */
export function positiveUsd(value: unknown): bigint {
  let cents: bigint;
  try {
    cents = parseAmount(value, 'USD');
  } catch (error) {
    if (!(error instanceof MoneyFormatError)) throw error;
    throw PaypalMockError.invalid('INVALID_PARAMETER_VALUE', 'amount.value must be a decimal string with at most 2 decimals.');
  }
  if (cents <= 0n) throw PaypalMockError.invalid('INVALID_PARAMETER_VALUE', 'amount.value must be greater than zero.');
  return cents;
}

export const iso = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');
export const money = (cents: string | bigint, currency: string) => ({ currency_code: currency, value: formatAmount(BigInt(cents), 'USD') });

/** Whether the authorization can be captured as asked, refused PayPal's way if not: how much, and its status after. */
export function capturable(
  authorization: AuthorizationRow,
  request: { amount?: { currency_code?: unknown; value?: unknown }; final_capture?: unknown },
): { cents: bigint; status: string; finalCapture: boolean } {
  if (authorization.status === 'VOIDED')
    throw PaypalMockError.unprocessable('AUTHORIZATION_VOIDED', 'A voided authorization cannot be captured or reauthorized.');
  if (authorization.status === 'EXPIRED')
    throw PaypalMockError.unprocessable('AUTHORIZATION_EXPIRED', 'An expired authorization cannot be captured.');
  if (authorization.status === 'CAPTURED')
    throw PaypalMockError.unprocessable(
      'AUTHORIZATION_ALREADY_CAPTURED',
      'Authorization has been previously captured and hence cannot be captured again.',
    );
  const remaining = BigInt(authorization.amount_cents) - BigInt(authorization.captured_cents);
  let cents = remaining;
  if (request.amount !== undefined) {
    if (request.amount?.currency_code !== authorization.currency)
      throw PaypalMockError.unprocessable('CURRENCY_MISMATCH', 'Currency of capture must be the same as currency of authorization.');
    cents = positiveUsd(request.amount.value);
    if (cents > remaining) throw PaypalMockError.unprocessable('MAX_CAPTURE_AMOUNT_EXCEEDED', 'Capture amount exceeds allowable limit.');
  }
  const finalCapture = request.final_capture === undefined ? true : request.final_capture === true;
  return { cents, finalCapture, status: finalCapture || cents === remaining ? 'CAPTURED' : 'PARTIALLY_CAPTURED' };
}
