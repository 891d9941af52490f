/**
 * The single place where money is parsed, formatted and computed.
 *
 * Amounts are integer minor units (USD cents, CNY fen) held as bigint; rates are CNY per 1 USD in units of
 * 1/10000 (RATE_DECIMALS). Binary floating point never touches an amount or a rate: every operation below is
 * exact integer arithmetic, and the only rounding is the explicit half-up step in divideHalfUp.
 */

export type Currency = 'USD' | 'CNY';

export const CURRENCY_DECIMALS: Readonly<Record<Currency, number>> = Object.freeze({ USD: 2, CNY: 2 });
export const RATE_DECIMALS = 4;
export const BPS_DENOMINATOR = 10_000n;

/** 10^15 minor units (10 trillion major units): far inside PostgreSQL bigint, so sums of many amounts cannot overflow. */
export const MAX_AMOUNT_MINOR = 10n ** 15n;
/** 9999.9999 CNY per USD, the largest rate parseRate accepts. */
export const MAX_RATE = 99_999_999n;

const RATE_SCALE = 10n ** BigInt(RATE_DECIMALS);

export type MoneyFormatReason = 'not_a_string' | 'malformed' | 'too_many_decimals' | 'negative' | 'too_large';

/** Thrown for client-supplied input that is not an acceptable amount or rate; `reason` is stable for API errors. */
export class MoneyFormatError extends Error {
  override readonly name = 'MoneyFormatError';

  constructor(
    readonly reason: MoneyFormatReason,
    message: string,
  ) {
    super(message);
  }
}

// ASCII digits only: [0-9] (not \p{Nd}) so that e.g. Arabic-Indic or full-width digits are refused.
const DECIMAL_SHAPE = /^([0-9]+)(?:\.([0-9]+))?$/;

function assertBigInt(value: unknown, name: string): asserts value is bigint {
  // Guards plain-JS callers: mixing a number into bigint arithmetic would otherwise throw an obscure TypeError or,
  // worse, a number could flow through comparisons silently.
  if (typeof value !== 'bigint') throw new TypeError(`${name} must be a bigint`);
}

function decimalsOf(currency: Currency): number {
  // Own-property check so that a bad runtime value (e.g. 'EUR' or 'toString') is refused instead of yielding undefined.
  if (!Object.prototype.hasOwnProperty.call(CURRENCY_DECIMALS, currency)) {
    throw new RangeError(`unsupported currency: ${String(currency)}`);
  }
  return CURRENCY_DECIMALS[currency];
}

/** Basis points as a bigint; a number is accepted only when it is a safe integer, so the conversion is exact. */
function toBps(value: bigint | number, name: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be an integer`);
    return BigInt(value);
  }
  throw new TypeError(`${name} must be a bigint or an integer number`);
}

/**
 * Shared strict decimal parser. Refusal order matters for the reported reason: type, then sign, then shape, then
 * number of decimals, then magnitude.
 */
function parseDecimal(input: unknown, decimals: number, max: bigint, what: string): bigint {
  if (typeof input !== 'string') {
    throw new MoneyFormatError('not_a_string', `${what} must be a decimal string`);
  }
  // A minus sign in front of an otherwise valid number is reported as 'negative' (more helpful than 'malformed').
  if (input.startsWith('-') && DECIMAL_SHAPE.test(input.slice(1))) {
    throw new MoneyFormatError('negative', `${what} must not be negative`);
  }
  const match = DECIMAL_SHAPE.exec(input);
  if (match === null) {
    throw new MoneyFormatError('malformed', `${what} must be a decimal string like "12.34"`);
  }
  const fraction = match[2] ?? '';
  // Checked on the string, before any conversion: "1.230" is refused even though its third decimal is zero.
  if (fraction.length > decimals) {
    throw new MoneyFormatError('too_many_decimals', `${what} must have at most ${decimals} decimals`);
  }
  // Leading zeros are allowed ("007.5"); strip them so the length check below bounds the BigInt conversion and
  // huge inputs are refused without building huge integers.
  const integer = match[1].replace(/^0+(?=[0-9])/, '');
  if (integer.length > max.toString().length) {
    throw new MoneyFormatError('too_large', `${what} is too large`);
  }
  const value = BigInt(integer + fraction.padEnd(decimals, '0'));
  if (value > max) {
    throw new MoneyFormatError('too_large', `${what} is too large`);
  }
  return value;
}

/** Fixed-point rendering with exactly `decimals` digits after the point; the sign is kept. */
function formatFixed(value: bigint, decimals: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(decimals + 1, '0');
  const integer = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals);
  return (negative ? '-' : '') + (decimals > 0 ? `${integer}.${fraction}` : integer);
}

/**
 * Parse an API amount into minor units. Only strings are accepted: a JSON number has already been through a binary
 * float, so its exact value is unknowable.
 */
export function parseAmount(input: unknown, currency: Currency): bigint {
  return parseDecimal(input, decimalsOf(currency), MAX_AMOUNT_MINOR, 'amount');
}

/** 200000n -> "2000.00", 5n -> "0.05", -5n -> "-0.05". */
export function formatAmount(minor: bigint, currency: Currency): string {
  assertBigInt(minor, 'amount');
  return formatFixed(minor, decimalsOf(currency));
}

/** "7.24" / "7.2400" -> 72400n. Zero is refused ('malformed'): a zero rate would divide by zero in cnyToUsd. */
export function parseRate(input: unknown): bigint {
  const rate = parseDecimal(input, RATE_DECIMALS, MAX_RATE, 'rate');
  if (rate === 0n) throw new MoneyFormatError('malformed', 'rate must be greater than zero');
  return rate;
}

/** 72400n -> "7.2400". */
export function formatRate(rate: bigint): string {
  assertBigInt(rate, 'rate');
  return formatFixed(rate, RATE_DECIMALS);
}

/**
 * numerator / denominator rounded to the nearest integer, ties away from zero (so -2.5 -> -3, mirroring 2.5 -> 3;
 * symmetric rounding means negating an input negates the result, which keeps debits and credits balanced).
 */
export function divideHalfUp(numerator: bigint, denominator: bigint): bigint {
  assertBigInt(numerator, 'numerator');
  assertBigInt(denominator, 'denominator');
  if (denominator <= 0n) throw new RangeError('denominator must be greater than zero');
  const quotient = numerator / denominator; // bigint division truncates toward zero
  const remainder = numerator % denominator; // same sign as numerator
  const absRemainder = remainder < 0n ? -remainder : remainder;
  if (2n * absRemainder < denominator) return quotient;
  return numerator < 0n ? quotient - 1n : quotient + 1n;
}

function assertPositiveRate(rate: bigint, name = 'rate'): void {
  assertBigInt(rate, name);
  if (rate <= 0n) throw new RangeError(`${name} must be greater than zero`);
}

const USD_SCALE = 10n ** BigInt(CURRENCY_DECIMALS.USD);
const CNY_SCALE = 10n ** BigInt(CURRENCY_DECIMALS.CNY);

/**
 * USD cents for a CNY amount: cnyFen * 10000 / rate, rounded half-up once at the end.
 * The currency scales are kept in the formula (they cancel today) so it stays right if a currency's decimals change.
 */
export function cnyToUsd(cnyFen: bigint, rate: bigint): bigint {
  assertBigInt(cnyFen, 'cnyFen');
  assertPositiveRate(rate);
  return divideHalfUp(cnyFen * RATE_SCALE * USD_SCALE, rate * CNY_SCALE);
}

/** CNY fen for a USD amount: usdCents * rate / 10000, rounded half-up once at the end. */
export function usdToCny(usdCents: bigint, rate: bigint): bigint {
  assertBigInt(usdCents, 'usdCents');
  assertPositiveRate(rate);
  return divideHalfUp(usdCents * rate * CNY_SCALE, RATE_SCALE * USD_SCALE);
}

/** amount * bps / 10000, rounded half-up. bps may be negative (e.g. a discount); a fractional number is refused. */
export function applyBps(amount: bigint, bps: bigint | number): bigint {
  assertBigInt(amount, 'amount');
  return divideHalfUp(amount * toBps(bps, 'bps'), BPS_DENOMINATOR);
}

/**
 * reference * (1 + premiumBps / 10000), rounded half-up to rate units. The result must still be a usable (positive)
 * rate, so a premium of -10000 bps or below, or one that rounds a tiny reference to zero, is a RangeError.
 */
export function floatingRate(reference: bigint, premiumBps: bigint | number): bigint {
  assertPositiveRate(reference, 'reference');
  const rate = divideHalfUp(reference * (BPS_DENOMINATOR + toBps(premiumBps, 'premiumBps')), BPS_DENOMINATOR);
  if (rate <= 0n) throw new RangeError('floating rate must be greater than zero');
  return rate;
}

/**
 * Whether rate deviates from reference by at most maxBps (inclusive), in either direction. Compared by
 * cross-multiplication, |rate - reference| * 10000 <= maxBps * reference, so no rounding can move the boundary.
 */
export function isRateWithinBps(rate: bigint, reference: bigint, maxBps: bigint | number): boolean {
  assertPositiveRate(rate);
  assertPositiveRate(reference, 'reference');
  const max = toBps(maxBps, 'maxBps');
  if (max < 0n) throw new RangeError('maxBps must not be negative');
  const diff = rate > reference ? rate - reference : reference - rate;
  return diff * BPS_DENOMINATOR <= max * reference;
}

/**
 * Split a gross amount into fee and net. The net is derived by subtraction (not rounded separately) so that
 * fee + net === gross always. Restricted to gross >= 0 and 0 <= feeBps <= 10000, which guarantees 0 <= fee <= gross
 * and net >= 0; anything else is a programming error and throws RangeError.
 */
export function splitFee(gross: bigint, feeBps: bigint | number): { fee: bigint; net: bigint } {
  assertBigInt(gross, 'gross');
  if (gross < 0n) throw new RangeError('gross must not be negative');
  const bps = toBps(feeBps, 'feeBps');
  if (bps < 0n || bps > BPS_DENOMINATOR) throw new RangeError('feeBps must be between 0 and 10000');
  const fee = applyBps(gross, bps);
  return { fee, net: gross - fee };
}

/**
 * What is left of a gross amount once a fee already settled is taken: gross - fee. Restricted to
 * 0 <= fee <= gross (a fee is never more than what it is taken from); anything else throws RangeError.
 */
export function netOfFee(gross: bigint, fee: bigint): bigint {
  assertBigInt(gross, 'gross');
  assertBigInt(fee, 'fee');
  if (fee < 0n || fee > gross) throw new RangeError('fee must be between 0 and gross');
  return gross - fee;
}
