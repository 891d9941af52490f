import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import * as moneyIndex from './index';
import {
  applyBps,
  BPS_DENOMINATOR,
  cnyToUsd,
  Currency,
  CURRENCY_DECIMALS,
  divideHalfUp,
  floatingRate,
  netOfFee,
  formatAmount,
  formatRate,
  isRateWithinBps,
  MAX_AMOUNT_MINOR,
  MAX_RATE,
  MoneyFormatError,
  MoneyFormatReason,
  parseAmount,
  parseRate,
  RATE_DECIMALS,
  splitFee,
  usdToCny,
} from './money';

const CURRENCIES: Currency[] = ['USD', 'CNY'];

/** The refusal reason thrown by fn, or 'no error'; any other exception propagates and fails the test. */
function refusalOf(fn: () => unknown): MoneyFormatReason | 'no error' {
  try {
    fn();
  } catch (e) {
    if (e instanceof MoneyFormatError) return e.reason;
    throw e;
  }
  return 'no error';
}

const abs = (x: bigint): bigint => (x < 0n ? -x : x);

/** Floor division for bigint (bigint `/` truncates toward zero). */
function floorDiv(n: bigint, d: bigint): bigint {
  const q = n / d;
  return n % d !== 0n && n < 0n !== d < 0n ? q - 1n : q;
}

/** Independent reference for half-up rounding: floor((2|n| + d) / 2d), sign restored (ties go away from zero). */
function referenceHalfUp(n: bigint, d: bigint): bigint {
  const magnitude = floorDiv(2n * abs(n) + d, 2n * d);
  return n < 0n ? -magnitude : magnitude;
}

describe('constants', () => {
  it('have the documented values', () => {
    expect(CURRENCY_DECIMALS).toEqual({ USD: 2, CNY: 2 });
    expect(RATE_DECIMALS).toBe(4);
    expect(BPS_DENOMINATOR).toBe(10_000n);
    expect(MAX_AMOUNT_MINOR).toBe(1_000_000_000_000_000n);
    expect(MAX_RATE).toBe(99_999_999n);
  });

  it('MAX_AMOUNT_MINOR fits in a PostgreSQL bigint with headroom', () => {
    expect(MAX_AMOUNT_MINOR * 1000n < 2n ** 63n - 1n).toBe(true);
  });

  it('CURRENCY_DECIMALS cannot be mutated', () => {
    expect(Object.isFrozen(CURRENCY_DECIMALS)).toBe(true);
  });

  it('index re-exports the module', () => {
    expect(moneyIndex.parseAmount).toBe(parseAmount);
    expect(moneyIndex.splitFee).toBe(splitFee);
    expect(moneyIndex.MoneyFormatError).toBe(MoneyFormatError);
    expect(moneyIndex.MAX_AMOUNT_MINOR).toBe(MAX_AMOUNT_MINOR);
  });
});

describe('MoneyFormatError', () => {
  it('is an Error carrying the reason', () => {
    const err = new MoneyFormatError('negative', 'nope');
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(MoneyFormatError);
    expect(err.reason).toBe('negative');
    expect(err.message).toBe('nope');
    expect(err.name).toBe('MoneyFormatError');
  });

  it('is what parseAmount throws', () => {
    expect(() => parseAmount('x', 'USD')).toThrow(MoneyFormatError);
  });
});

describe('parseAmount', () => {
  describe.each(CURRENCIES)('accepted (%s)', (currency) => {
    it.each<[string, bigint]>([
      ['2000', 200000n],
      ['2000.5', 200050n],
      ['2000.50', 200050n],
      ['0.01', 1n],
      ['0.1', 10n],
      ['0', 0n],
      ['0.0', 0n],
      ['0.00', 0n],
      ['00', 0n],
      ['007.5', 750n],
      ['0007.05', 705n],
      ['1', 100n],
      ['9', 900n],
      ['123456.78', 12345678n],
      ['10000000000000', MAX_AMOUNT_MINOR],
      ['10000000000000.00', MAX_AMOUNT_MINOR],
      ['9999999999999.99', MAX_AMOUNT_MINOR - 1n],
      ['000010000000000000.00', MAX_AMOUNT_MINOR],
    ])('%j -> %p', (input, expected) => {
      expect(parseAmount(input, currency)).toBe(expected);
    });
  });

  it('accepts a very long run of leading zeros', () => {
    expect(parseAmount('0'.repeat(10_000) + '1.5', 'USD')).toBe(150n);
  });

  it.each<[string, unknown, MoneyFormatReason]>([
    // Not strings: JSON numbers and everything else.
    ['JSON integer', 2000, 'not_a_string'],
    ['JSON decimal', 2000.5, 'not_a_string'],
    ['JSON number from JSON.parse', (JSON.parse('{"amount": 0.1}') as { amount: number }).amount, 'not_a_string'],
    ['zero number', 0, 'not_a_string'],
    ['NaN', Number.NaN, 'not_a_string'],
    ['Infinity', Number.POSITIVE_INFINITY, 'not_a_string'],
    ['bigint', 2000n, 'not_a_string'],
    ['null', null, 'not_a_string'],
    ['undefined', undefined, 'not_a_string'],
    ['boolean', true, 'not_a_string'],
    ['object', { amount: '1' }, 'not_a_string'],
    ['array', ['1'], 'not_a_string'],
    ['String object', new String('1'), 'not_a_string'],
    // Negative.
    ['minus integer', '-1', 'negative'],
    ['minus decimal', '-0.05', 'negative'],
    ['minus zero', '-0', 'negative'],
    ['minus with too many decimals', '-1.234', 'negative'],
    // Too many decimals (checked on the string, so trailing zeros count).
    ['three decimals', '1.234', 'too_many_decimals'],
    ['third decimal zero', '1.230', 'too_many_decimals'],
    ['zero with three decimals', '0.000', 'too_many_decimals'],
    ['many decimals', '1.' + '0'.repeat(1000), 'too_many_decimals'],
    // Malformed.
    ['empty', '', 'malformed'],
    ['exponent', '1e3', 'malformed'],
    ['exponent with decimals', '1.5e2', 'malformed'],
    ['capital exponent', '1E3', 'malformed'],
    ['leading space', ' 1', 'malformed'],
    ['trailing space', '1 ', 'malformed'],
    ['trailing newline', '1\n', 'malformed'],
    ['trailing dot', '1.', 'malformed'],
    ['leading dot', '.5', 'malformed'],
    ['plus sign', '+1', 'malformed'],
    ['lone dot', '.', 'malformed'],
    ['lone minus', '-', 'malformed'],
    ['minus garbage', '-abc', 'malformed'],
    ['double minus', '--1', 'malformed'],
    ['minus space', '- 1', 'malformed'],
    ['unicode minus', '\u22121', 'malformed'],
    ['Arabic-Indic digits', '١٢', 'malformed'],
    ['full-width digits', '１２', 'malformed'],
    ['Devanagari digits', '१२', 'malformed'],
    ['comma decimal separator', '1,5', 'malformed'],
    ['thousands separator', '1,000.00', 'malformed'],
    ['underscore separator', '1_000', 'malformed'],
    ['two dots', '1.2.3', 'malformed'],
    ['hex', '0x10', 'malformed'],
    ['binary', '0b1', 'malformed'],
    ['Infinity string', 'Infinity', 'malformed'],
    ['NaN string', 'NaN', 'malformed'],
    ['currency symbol', '$1', 'malformed'],
    ['currency code', '1 USD', 'malformed'],
    ['bigint literal', '1n', 'malformed'],
    ['NUL', '1\u0000', 'malformed'],
    // Too large.
    ['one minor unit over max', '10000000000000.01', 'too_large'],
    ['one major unit over max', '10000000000001', 'too_large'],
    ['far over max', '9'.repeat(40), 'too_large'],
    ['enormous', '9'.repeat(100_000), 'too_large'],
  ])('refuses %s', (_label, input, reason) => {
    expect(refusalOf(() => parseAmount(input, 'USD'))).toBe(reason);
    expect(refusalOf(() => parseAmount(input, 'CNY'))).toBe(reason);
  });

  it('throws RangeError for an unknown currency', () => {
    expect(() => parseAmount('1', 'EUR' as Currency)).toThrow(RangeError);
    expect(() => parseAmount('1', 'toString' as Currency)).toThrow(RangeError);
  });

  it('property: canonical strings round-trip through formatAmount', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_AMOUNT_MINOR }), fc.constantFrom(...CURRENCIES), (minor, currency) => {
        const canonical = formatAmount(minor, currency);
        expect(parseAmount(canonical, currency)).toBe(minor);
      }),
    );
  });

  it('property: any accepted spelling formats to the canonical form (computed with string operations)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9]{1,13}$/),
        fc.stringMatching(/^[0-9]{0,2}$/),
        fc.nat({ max: 5 }),
        fc.constantFrom(...CURRENCIES),
        (integer, fraction, extraZeros, currency) => {
          const input = '0'.repeat(extraZeros) + integer + (fraction === '' ? '' : `.${fraction}`);
          const canonicalInteger = integer.replace(/^0+/, '') || '0';
          const expected = `${canonicalInteger}.${fraction.padEnd(2, '0')}`;
          expect(formatAmount(parseAmount(input, currency), currency)).toBe(expected);
        },
      ),
    );
  });

  it('property: a third decimal is always refused', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{1,20}$/), fc.stringMatching(/^[0-9]{3,10}$/), (integer, fraction) => {
        expect(refusalOf(() => parseAmount(`${integer}.${fraction}`, 'USD'))).toBe('too_many_decimals');
      }),
    );
  });

  it('property: arbitrary strings either parse to a value in range or are refused with MoneyFormatError', () => {
    const shape = /^[0-9]+(\.[0-9]+)?$/;
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('0', '1', '9', '.', '-', '+', 'e', ' ') })),
        (input) => {
          const reason = refusalOf(() => parseAmount(input, 'CNY'));
          if (reason === 'no error') {
            expect(input).toMatch(shape);
            const value = parseAmount(input, 'CNY');
            expect(value >= 0n && value <= MAX_AMOUNT_MINOR).toBe(true);
          } else if (!input.startsWith('-')) {
            // Only a leading minus sign can produce 'negative'.
            expect(reason).not.toBe('negative');
          }
          if (!shape.test(input) && !shape.test(input.slice(1))) expect(reason).toBe('malformed');
        },
      ),
    );
  });

  it('property: the value matches an independent major/minor split', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 13n - 1n }), fc.bigInt({ min: 0n, max: 99n }), (major, cents) => {
        const input = `${major}.${cents.toString().padStart(2, '0')}`;
        expect(parseAmount(input, 'USD')).toBe(major * 100n + cents);
      }),
    );
  });
});

describe('formatAmount', () => {
  it.each<[bigint, string]>([
    [200000n, '2000.00'],
    [200050n, '2000.50'],
    [5n, '0.05'],
    [50n, '0.50'],
    [1n, '0.01'],
    [0n, '0.00'],
    [99n, '0.99'],
    [100n, '1.00'],
    [-5n, '-0.05'],
    [-1n, '-0.01'],
    [-100n, '-1.00'],
    [-200050n, '-2000.50'],
    [MAX_AMOUNT_MINOR, '10000000000000.00'],
    [10n ** 30n + 7n, '10000000000000000000000000000.07'],
  ])('%p -> %j', (minor, expected) => {
    expect(formatAmount(minor, 'USD')).toBe(expected);
    expect(formatAmount(minor, 'CNY')).toBe(expected);
  });

  it('refuses a number with TypeError instead of formatting a float', () => {
    expect(() => formatAmount(5 as unknown as bigint, 'USD')).toThrow(TypeError);
  });

  it('throws RangeError for an unknown currency', () => {
    expect(() => formatAmount(1n, 'JPY' as Currency)).toThrow(RangeError);
  });

  it('property: output has exactly two decimals and negation only adds a sign', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 20n }), (minor) => {
        const positive = formatAmount(minor, 'USD');
        expect(positive).toMatch(/^(0|[1-9][0-9]*)\.[0-9]{2}$/);
        expect(formatAmount(-minor, 'USD')).toBe(`-${positive}`);
      }),
    );
  });
});

describe('parseRate', () => {
  it.each<[string, bigint]>([
    ['7.2', 72000n],
    ['7.24', 72400n],
    ['7.240', 72400n],
    ['7.2400', 72400n],
    ['7.2431', 72431n],
    ['7', 70000n],
    ['007.24', 72400n],
    ['0.0001', 1n],
    ['0.5', 5000n],
    ['1', 10000n],
    ['9999.9999', MAX_RATE],
    ['9999', 99990000n],
  ])('%j -> %p', (input, expected) => {
    expect(parseRate(input)).toBe(expected);
  });

  it.each<[string, unknown, MoneyFormatReason]>([
    ['JSON number', 7.24, 'not_a_string'],
    ['JSON integer', 7, 'not_a_string'],
    ['null', null, 'not_a_string'],
    ['bigint', 72400n, 'not_a_string'],
    ['zero', '0', 'malformed'],
    ['zero with decimals', '0.0000', 'malformed'],
    ['zero with leading zeros', '000.0', 'malformed'],
    ['empty', '', 'malformed'],
    ['exponent', '7e0', 'malformed'],
    ['leading space', ' 7.24', 'malformed'],
    ['trailing dot', '7.', 'malformed'],
    ['leading dot', '.5', 'malformed'],
    ['plus sign', '+7.24', 'malformed'],
    ['Arabic-Indic digits', '٧٫٢', 'malformed'],
    ['negative', '-7.24', 'negative'],
    ['negative zero', '-0', 'negative'],
    ['five decimals', '7.24001', 'too_many_decimals'],
    ['fifth decimal zero', '7.24000', 'too_many_decimals'],
    ['tiny with five decimals', '0.00001', 'too_many_decimals'],
    ['just over max', '10000', 'too_large'],
    ['just over max with decimals', '10000.0000', 'too_large'],
    ['far over max', '123456789.1', 'too_large'],
  ])('refuses %s', (_label, input, reason) => {
    expect(refusalOf(() => parseRate(input))).toBe(reason);
  });

  it('property: round-trips through formatRate for every valid rate', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: MAX_RATE }), (rate) => {
        expect(parseRate(formatRate(rate))).toBe(rate);
      }),
    );
  });
});

describe('formatRate', () => {
  it.each<[bigint, string]>([
    [72400n, '7.2400'],
    [72431n, '7.2431'],
    [70000n, '7.0000'],
    [1n, '0.0001'],
    [10n, '0.0010'],
    [10000n, '1.0000'],
    [0n, '0.0000'],
    [MAX_RATE, '9999.9999'],
    [-72400n, '-7.2400'],
  ])('%p -> %j', (rate, expected) => {
    expect(formatRate(rate)).toBe(expected);
  });

  it('refuses a number with TypeError', () => {
    expect(() => formatRate(7.24 as unknown as bigint)).toThrow(TypeError);
  });
});

describe('divideHalfUp', () => {
  it.each<[bigint, bigint, bigint]>([
    [0n, 7n, 0n],
    [6n, 3n, 2n],
    [-6n, 3n, -2n],
    [1n, 1n, 1n],
    // Exactly half: away from zero.
    [1n, 2n, 1n],
    [5n, 2n, 3n],
    [7n, 2n, 4n],
    [150n, 100n, 2n],
    [-1n, 2n, -1n],
    [-5n, 2n, -3n],
    [-150n, 100n, -2n],
    // Just below half.
    [149n, 100n, 1n],
    [-149n, 100n, -1n],
    [1n, 3n, 0n],
    [-1n, 3n, 0n],
    [4999n, 10000n, 0n],
    // Just above half.
    [151n, 100n, 2n],
    [-151n, 100n, -2n],
    [2n, 3n, 1n],
    [-2n, 3n, -1n],
    [5001n, 10000n, 1n],
    // Odd denominators never tie.
    [3n, 7n, 0n],
    [4n, 7n, 1n],
    // Large values (beyond 2^53 and 2^64).
    [10n ** 40n + 5n, 10n, 10n ** 39n + 1n],
    [10n ** 40n + 4n, 10n, 10n ** 39n],
    [-(10n ** 40n) - 5n, 10n, -(10n ** 39n) - 1n],
    [2n ** 64n + 1n, 2n, 2n ** 63n + 1n],
    [1n, 10n ** 30n, 0n],
    [5n * 10n ** 29n, 10n ** 30n, 1n],
  ])('%p / %p -> %p', (numerator, denominator, expected) => {
    expect(divideHalfUp(numerator, denominator)).toBe(expected);
  });

  it.each<[bigint]>([[0n], [-1n], [-100n]])('throws RangeError for denominator %p', (denominator) => {
    expect(() => divideHalfUp(10n, denominator)).toThrow(RangeError);
  });

  it('throws TypeError for number arguments', () => {
    expect(() => divideHalfUp(5 as unknown as bigint, 2n)).toThrow(TypeError);
    expect(() => divideHalfUp(5n, 2 as unknown as bigint)).toThrow(TypeError);
  });

  // Small denominators make ties frequent; large ones exercise big magnitudes.
  const denominators = fc.oneof(fc.bigInt({ min: 1n, max: 10n }), fc.bigInt({ min: 1n, max: 10n ** 25n }));
  const numerators = fc.oneof(fc.bigInt({ min: -100n, max: 100n }), fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }));

  it('property: matches an independent floor-based reference', () => {
    fc.assert(
      fc.property(numerators, denominators, (n, d) => {
        expect(divideHalfUp(n, d)).toBe(referenceHalfUp(n, d));
      }),
    );
  });

  it('property: result is nearest, |q*d - n| <= d/2, with ties away from zero', () => {
    fc.assert(
      fc.property(numerators, denominators, (n, d) => {
        const q = divideHalfUp(n, d);
        const error = abs(q * d - n);
        expect(2n * error <= d).toBe(true);
        if (2n * error === d) expect(abs(q * d) > abs(n)).toBe(true);
      }),
    );
  });

  it('property: exact ties round away from zero', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.bigInt({ min: 1n, max: 10n ** 12n }), (k, half) => {
        const d = 2n * half;
        const n = k * d + (k < 0n ? -half : half);
        expect(divideHalfUp(n, d)).toBe(k < 0n ? k - 1n : k + 1n);
      }),
    );
  });

  it('property: symmetric (odd function)', () => {
    fc.assert(
      fc.property(numerators, denominators, (n, d) => {
        expect(divideHalfUp(-n, d)).toBe(-divideHalfUp(n, d));
      }),
    );
  });
});

describe('cnyToUsd', () => {
  it.each<[bigint, bigint, bigint]>([
    // 2000.00 CNY at 7.2400 = 276.2430... USD
    [200000n, 72400n, 27624n],
    [0n, 72400n, 0n],
    [724n, 72400n, 100n],
    [1n, 72400n, 0n],
    // 1 fen at 2.0000 = 0.5 cent exactly: rounds up; just below/above half.
    [1n, 20000n, 1n],
    [1n, 20001n, 0n],
    [1n, 19999n, 1n],
    [3n, 20000n, 2n],
    [-1n, 20000n, -1n],
    [-200000n, 72400n, -27624n],
    // Extremes.
    [MAX_AMOUNT_MINOR, 1n, MAX_AMOUNT_MINOR * 10000n],
    [MAX_AMOUNT_MINOR, MAX_RATE, 100000001000n],
    [1n, MAX_RATE, 0n],
  ])('%p fen at %p -> %p cents', (cny, rate, expected) => {
    expect(cnyToUsd(cny, rate)).toBe(expected);
  });

  it.each<[bigint]>([[0n], [-1n], [-72400n]])('throws RangeError for rate %p', (rate) => {
    expect(() => cnyToUsd(100n, rate)).toThrow(RangeError);
  });

  it('throws TypeError for number arguments', () => {
    expect(() => cnyToUsd(100 as unknown as bigint, 72400n)).toThrow(TypeError);
    expect(() => cnyToUsd(100n, 7.24 as unknown as bigint)).toThrow(TypeError);
  });

  it('property: result is the nearest cent to the exact quotient', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -MAX_AMOUNT_MINOR, max: MAX_AMOUNT_MINOR }), fc.bigInt({ min: 1n, max: MAX_RATE }), (cny, rate) => {
        const usd = cnyToUsd(cny, rate);
        // usd ~ cny * 10000 / rate  <=>  |usd * rate - cny * 10000| <= rate / 2
        expect(2n * abs(usd * rate - cny * 10000n) <= rate).toBe(true);
      }),
    );
  });

  it('property: monotonic in the CNY amount', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: MAX_AMOUNT_MINOR }),
        fc.bigInt({ min: 0n, max: 10n ** 6n }),
        fc.bigInt({ min: 1n, max: MAX_RATE }),
        (cny, delta, rate) => {
          expect(cnyToUsd(cny + delta, rate) >= cnyToUsd(cny, rate)).toBe(true);
        },
      ),
    );
  });

  it('property: CNY -> USD -> CNY lands within one rate-step (one cent in fen) of the original', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_AMOUNT_MINOR }), fc.bigInt({ min: 1n, max: MAX_RATE }), (cny, rate) => {
        const back = usdToCny(cnyToUsd(cny, rate), rate);
        const drift = abs(back - cny);
        // One rate-step: a cent is worth rate/10000 fen, so drift <= ceil(rate / 10000).
        expect(drift <= (rate + 9999n) / 10000n).toBe(true);
        // Tighter: half a cent from the USD rounding plus half a fen from the CNY rounding.
        expect(20000n * drift <= rate + 10000n).toBe(true);
      }),
    );
  });
});

describe('usdToCny', () => {
  it.each<[bigint, bigint, bigint]>([
    [100n, 72400n, 724n],
    // 276.24 USD at 7.2400 = 1999.9776 CNY
    [27624n, 72400n, 199998n],
    [0n, 72400n, 0n],
    // 1 cent at 0.5000 = 0.5 fen exactly: rounds up; just below/above half.
    [1n, 5000n, 1n],
    [1n, 4999n, 0n],
    [1n, 5001n, 1n],
    [-1n, 5000n, -1n],
    [-100n, 72400n, -724n],
    [1n, 1n, 0n],
    [MAX_AMOUNT_MINOR, MAX_RATE, 9999999900000000000n],
  ])('%p cents at %p -> %p fen', (usd, rate, expected) => {
    expect(usdToCny(usd, rate)).toBe(expected);
  });

  it.each<[bigint]>([[0n], [-1n]])('throws RangeError for rate %p', (rate) => {
    expect(() => usdToCny(100n, rate)).toThrow(RangeError);
  });

  it('property: result is the nearest fen to the exact product', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -MAX_AMOUNT_MINOR, max: MAX_AMOUNT_MINOR }), fc.bigInt({ min: 1n, max: MAX_RATE }), (usd, rate) => {
        const cny = usdToCny(usd, rate);
        expect(2n * abs(cny * 10000n - usd * rate) <= 10000n).toBe(true);
      }),
    );
  });

  it('property: USD -> CNY -> USD drift is bounded by the rounding steps', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_AMOUNT_MINOR }), fc.bigInt({ min: 1n, max: MAX_RATE }), (usd, rate) => {
        const drift = abs(cnyToUsd(usdToCny(usd, rate), rate) - usd);
        // Half a fen from the CNY rounding (worth 5000/rate cents) plus half a cent.
        expect(2n * rate * drift <= 10000n + rate).toBe(true);
      }),
    );
  });
});

describe('applyBps', () => {
  it.each<[bigint, bigint | number, bigint]>([
    // 1% of 276.24 = 2.7624 -> 2.76
    [27624n, 100, 276n],
    [27624n, 100n, 276n],
    [10000n, 100, 100n],
    [0n, 100, 0n],
    [12345n, 0, 0n],
    [12345n, 10000, 12345n],
    [12345n, 20000n, 24690n],
    // Exactly half a unit, just below and just above.
    [50n, 100, 1n],
    [49n, 100, 0n],
    [51n, 100, 1n],
    [150n, 100, 2n],
    [1n, 5000, 1n],
    [1n, 4999, 0n],
    // Negative amount / negative bps are symmetric.
    [-50n, 100, -1n],
    [-49n, 100, 0n],
    [1000n, -150, -15n],
    [-1000n, -150, 15n],
    [MAX_AMOUNT_MINOR, 10000n, MAX_AMOUNT_MINOR],
    [MAX_AMOUNT_MINOR, 1, 100000000000n],
    [1n, Number.MAX_SAFE_INTEGER, 900719925474n],
  ])('%p at %p bps -> %p', (amount, bps, expected) => {
    expect(applyBps(amount, bps)).toBe(expected);
  });

  it.each<[unknown]>([[1.5], [0.1], [Number.NaN], [Number.POSITIVE_INFINITY], [2 ** 53], [1e21]])(
    'throws RangeError for non-integer or unsafe number bps %p',
    (bps) => {
      expect(() => applyBps(100n, bps as number)).toThrow(RangeError);
    },
  );

  it.each<[unknown]>([['100'], [null], [undefined]])('throws TypeError for bps %p', (bps) => {
    expect(() => applyBps(100n, bps as number)).toThrow(TypeError);
  });

  it('number and bigint bps agree', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -MAX_AMOUNT_MINOR, max: MAX_AMOUNT_MINOR }), fc.integer({ min: -20000, max: 20000 }), (amount, bps) => {
        expect(applyBps(amount, bps)).toBe(applyBps(amount, BigInt(bps)));
      }),
    );
  });

  it('property: result is the nearest integer to amount * bps / 10000', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -MAX_AMOUNT_MINOR, max: MAX_AMOUNT_MINOR }), fc.bigInt({ min: -20000n, max: 20000n }), (amount, bps) => {
        const result = applyBps(amount, bps);
        expect(2n * abs(result * 10000n - amount * bps) <= 10000n).toBe(true);
      }),
    );
  });
});

describe('floatingRate', () => {
  it.each<[bigint, bigint | number, bigint]>([
    [72400n, 0, 72400n],
    [72400n, 0n, 72400n],
    // +1.5%: 7.24 * 1.015 = 7.3486
    [72400n, 150, 73486n],
    // -1.5%: 7.24 * 0.985 = 7.1314
    [72400n, -150, 71314n],
    [72400n, -150n, 71314n],
    // 7.2431 * 1.0001 = 7.24382431 -> 7.2438
    [72431n, 1, 72438n],
    // Half a rate unit exactly: away from zero; just below/above.
    [1n, 5000, 2n],
    [3n, -5000, 2n],
    [1n, -5000, 1n],
    [1n, 4999, 1n],
    [1n, 5001, 2n],
    [MAX_RATE, 0, MAX_RATE],
    [MAX_RATE, 10000, 2n * MAX_RATE],
    [72400n, -9999, 7n],
  ])('%p with %p bps premium -> %p', (reference, premium, expected) => {
    expect(floatingRate(reference, premium)).toBe(expected);
  });

  it.each<[bigint, bigint | number]>([
    [0n, 0],
    [-72400n, 0],
    [72400n, -10000],
    [72400n, -20000n],
    // Positive reference, but the result rounds to zero.
    [1n, -9999],
  ])('throws RangeError for reference %p with premium %p', (reference, premium) => {
    expect(() => floatingRate(reference, premium)).toThrow(RangeError);
  });

  it('throws RangeError for a fractional premium', () => {
    expect(() => floatingRate(72400n, 1.5)).toThrow(RangeError);
  });

  it('property: a zero premium returns the reference', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 20n }), fc.constantFrom<bigint | number>(0, 0n, -0), (reference, zero) => {
        expect(floatingRate(reference, zero)).toBe(reference);
      }),
    );
  });

  it('property: nearest rate unit to reference * (10000 + premium) / 10000, monotonic in premium', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: MAX_RATE }), fc.bigInt({ min: -5000n, max: 5000n }), (reference, premium) => {
        const rate = floatingRate(reference, premium);
        expect(2n * abs(rate * 10000n - reference * (10000n + premium)) <= 10000n).toBe(true);
        expect(floatingRate(reference, premium + 1n) >= rate).toBe(true);
      }),
    );
  });
});

describe('isRateWithinBps', () => {
  it.each<[bigint, bigint, bigint | number, boolean]>([
    // 100 bps of 7.2400 is exactly 0.0724: both boundaries inclusive.
    [72400n, 72400n, 100, true],
    [73124n, 72400n, 100, true],
    [73125n, 72400n, 100, false],
    [71676n, 72400n, 100, true],
    [71675n, 72400n, 100, false],
    // 100 bps of 7.2401 is 0.072401: a deviation of 0.0724 is inside, 0.0725 is just over (no rounding to hide it).
    [73125n, 72401n, 100, true],
    [73126n, 72401n, 100n, false],
    [71677n, 72401n, 100, true],
    [71676n, 72401n, 100, false],
    // Zero tolerance means exact equality.
    [72400n, 72400n, 0, true],
    [72401n, 72400n, 0, false],
    [72399n, 72400n, 0n, false],
    // 100% either way.
    [144800n, 72400n, 10000, true],
    [144801n, 72400n, 10000, false],
    [1n, 72400n, 10000, true],
    // Extreme spread: (99999999 - 1) * 10000 bps away.
    [MAX_RATE, 1n, 999999980000n, true],
    [MAX_RATE, 1n, 999999979999n, false],
  ])('rate %p vs reference %p within %p bps -> %p', (rate, reference, maxBps, expected) => {
    expect(isRateWithinBps(rate, reference, maxBps)).toBe(expected);
  });

  it.each<[bigint, bigint, bigint | number, ErrorConstructor]>([
    [72400n, 0n, 100, RangeError],
    [72400n, -1n, 100, RangeError],
    [0n, 72400n, 100, RangeError],
    [-1n, 72400n, 100, RangeError],
    [72400n, 72400n, -1, RangeError],
    [72400n, 72400n, 0.5, RangeError],
  ])('throws for rate %p, reference %p, maxBps %p', (rate, reference, maxBps, error) => {
    expect(() => isRateWithinBps(rate, reference, maxBps)).toThrow(error);
  });

  const references = fc.bigInt({ min: 1n, max: MAX_RATE });

  it('property: symmetric in direction', () => {
    fc.assert(
      fc.property(
        references.chain((reference) => fc.tuple(fc.constant(reference), fc.bigInt({ min: 0n, max: reference - 1n }))),
        fc.bigInt({ min: 0n, max: 20000n }),
        ([reference, delta], maxBps) => {
          expect(isRateWithinBps(reference + delta, reference, maxBps)).toBe(isRateWithinBps(reference - delta, reference, maxBps));
        },
      ),
    );
  });

  it('property: the boundary sits exactly at floor(reference * maxBps / 10000)', () => {
    fc.assert(
      fc.property(references, fc.bigInt({ min: 0n, max: 9999n }), (reference, maxBps) => {
        const allowed = (reference * maxBps) / 10000n; // floor, both non-negative
        expect(isRateWithinBps(reference + allowed, reference, maxBps)).toBe(true);
        expect(isRateWithinBps(reference + allowed + 1n, reference, maxBps)).toBe(false);
        if (reference - allowed > 0n) expect(isRateWithinBps(reference - allowed, reference, maxBps)).toBe(true);
        if (reference - allowed - 1n > 0n) expect(isRateWithinBps(reference - allowed - 1n, reference, maxBps)).toBe(false);
      }),
    );
  });

  it('property: monotonic in maxBps', () => {
    fc.assert(
      fc.property(references, references, fc.bigInt({ min: 0n, max: 20000n }), (rate, reference, maxBps) => {
        if (isRateWithinBps(rate, reference, maxBps)) expect(isRateWithinBps(rate, reference, maxBps + 1n)).toBe(true);
      }),
    );
  });
});

describe('splitFee', () => {
  it.each<[bigint, bigint | number, bigint, bigint]>([
    [27624n, 100, 276n, 27348n],
    [27624n, 100n, 276n, 27348n],
    [0n, 100, 0n, 0n],
    [12345n, 0, 0n, 12345n],
    [12345n, 10000, 12345n, 0n],
    [50n, 100, 1n, 49n],
    [49n, 100, 0n, 49n],
    [1n, 5000, 1n, 0n],
    [1n, 4999, 0n, 1n],
    [MAX_AMOUNT_MINOR, 25, 2500000000000n, 997500000000000n],
  ])('%p at %p bps -> fee %p, net %p', (gross, bps, fee, net) => {
    expect(splitFee(gross, bps)).toEqual({ fee, net });
  });

  it.each<[bigint, bigint | number]>([
    [-1n, 100],
    [100n, -1],
    [100n, 10001n],
    [100n, 1.5],
    [100n, Number.NaN],
  ])('throws RangeError for gross %p with fee bps %p', (gross, bps) => {
    expect(() => splitFee(gross, bps)).toThrow(RangeError);
  });

  it('property: fee + net === gross and 0 <= fee <= gross for 0 <= bps <= 10000', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: MAX_AMOUNT_MINOR }),
        fc.oneof(fc.bigInt({ min: 0n, max: 10000n }), fc.integer({ min: 0, max: 10000 })),
        (gross, bps) => {
          const { fee, net } = splitFee(gross, bps);
          expect(fee + net).toBe(gross);
          expect(fee >= 0n && fee <= gross).toBe(true);
          expect(net >= 0n).toBe(true);
          expect(fee).toBe(applyBps(gross, bps));
        },
      ),
    );
  });
});

describe('netOfFee', () => {
  it('takes a settled fee from its gross', () => {
    expect(netOfFee(27624n, 276n)).toBe(27348n);
    expect(netOfFee(100n, 0n)).toBe(100n);
    expect(netOfFee(100n, 100n)).toBe(0n);
  });

  it('refuses a negative fee or one above the gross', () => {
    expect(() => netOfFee(100n, -1n)).toThrow(RangeError);
    expect(() => netOfFee(100n, 101n)).toThrow(RangeError);
  });

  it('agrees with splitFee for a fee taken at the same basis points', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_AMOUNT_MINOR }), fc.integer({ min: 0, max: 10000 }), (gross, bps) => {
        expect(netOfFee(gross, applyBps(gross, bps))).toBe(splitFee(gross, bps).net);
      }),
    );
  });
});

describe('no floating point near money', () => {
  it('money.ts uses no float conversions or float rounding', () => {
    const source = readFileSync(join(__dirname, 'money.ts'), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    for (const forbidden of ['parseFloat', 'parseInt', 'toFixed', 'toPrecision', 'Math.', 'Number(', 'Intl.', '.toLocaleString']) {
      expect({ forbidden, found: source.includes(forbidden) }).toEqual({ forbidden, found: false });
    }
  });
});
