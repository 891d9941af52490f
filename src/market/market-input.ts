import { DomainError, FieldError } from '../common/errors';
import { Currency, MoneyFormatError, parseAmount, parseRate } from '../common/money';
import type { Price } from './pricing';

const REASONS: Record<MoneyFormatError['reason'], string> = {
  not_a_string: 'must be a decimal string such as "2000.00"',
  malformed: 'must be a decimal string such as "2000.00"',
  too_many_decimals: 'has more decimals than allowed',
  negative: 'must not be negative',
  too_large: 'is too large',
};

/**
 * Parses the money fields of a request body through the money module, collecting every bad field so
 * the client hears about all of them at once.
 */
export class InputParser {
  private readonly errors: FieldError[] = [];

  amount(value: unknown, field: string, currency: Currency = 'CNY', options: { zero?: boolean } = {}): bigint {
    try {
      const amount = parseAmount(value, currency);
      if (amount < 0n || (amount === 0n && !options.zero)) this.fail(field, 'too_small', `${field} must be greater than zero`);
      return amount;
    } catch (error) {
      if (!(error instanceof MoneyFormatError)) throw error;
      this.fail(
        field,
        error.reason === 'not_a_string' || error.reason === 'malformed' ? 'invalid_amount' : error.reason,
        `${field} ${REASONS[error.reason]}`,
      );
      return 0n;
    }
  }

  optionalAmount(value: unknown, field: string): bigint | undefined {
    return value === undefined ? undefined : this.amount(value, field);
  }

  rate(value: unknown, field: string): bigint {
    try {
      return parseRate(value);
    } catch (error) {
      if (!(error instanceof MoneyFormatError)) throw error;
      this.fail(
        field,
        error.reason === 'too_many_decimals' ? 'too_many_decimals' : 'invalid_rate',
        `${field} must be a rate such as "7.2400" (at most 4 decimals)`,
      );
      return 0n;
    }
  }

  optionalRate(value: unknown, field: string): bigint | undefined {
    return value === undefined ? undefined : this.rate(value, field);
  }

  /** `{type: "fixed", rate}` or `{type: "floating", premiumBps}`, nothing else. */
  price(value: { type: string; rate?: unknown; premiumBps?: unknown }): Price {
    if (value.type === 'fixed') {
      if (value.premiumBps !== undefined) this.fail('price.premiumBps', 'not_allowed', 'a fixed price has no premiumBps');
      if (value.rate === undefined) {
        this.fail('price.rate', 'required', 'a fixed price needs a rate');
        return { type: 'fixed', rate: 0n };
      }
      return { type: 'fixed', rate: this.rate(value.rate, 'price.rate') };
    }
    if (value.rate !== undefined) this.fail('price.rate', 'not_allowed', 'a floating price has no rate');
    if (value.premiumBps === undefined) {
      this.fail('price.premiumBps', 'required', 'a floating price needs premiumBps');
      return { type: 'floating', premiumBps: 0 };
    }
    return { type: 'floating', premiumBps: value.premiumBps as number };
  }

  fail(field: string, code: string, message: string): void {
    this.errors.push({ field, code, message });
  }

  done(): void {
    if (this.errors.length > 0) throw DomainError.validation(this.errors);
  }
}
