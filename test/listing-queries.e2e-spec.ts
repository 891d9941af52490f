import { registerUser, TestUser } from './support/factories';
import { useTestApp } from './support/use-test-app';

/**
 * The queries of the hot lists (offers, requests, trades), good and bad, as clients send them: each bad one is a 400
 * problem naming every bad field with its code and message, in the order and wording they always had (unknown
 * parameters first, then the list's own fields, then the page's); amounts and rates are judged by the money module.
 */

const ENUMS: Record<string, Record<string, string>> = {
  '/v1/offers': { status: 'active, paused, closed, exhausted', paymentMethod: 'paypal, bank_transfer', mine: 'true, false' },
  '/v1/requests': { status: 'open, filled, cancelled, expired', paymentMethod: 'paypal, bank_transfer' },
  '/v1/trades': {
    state:
      'awaiting_funding, funded, payout_sent, releasing, refunding, disputed, splitting, completed, refunded, settled_split, cancelled, expired',
  },
};

function message(path: string, field: string, code: string): string {
  const rate = /Rate$/.test(field);
  switch (code) {
    case 'too_small':
      return `${field} must not be less than 1`;
    case 'too_large':
      return `${field} must not be greater than 100`;
    case 'not_an_integer':
      return `${field} must be an integer number`;
    case 'too_long':
      return `${field} must be shorter than or equal to 512 characters`;
    case 'not_allowed':
      return `${field} must be one of the following values: ${ENUMS[path][field]}`;
    case 'unknown_field':
      return `property ${field} should not exist`;
    case 'invalid_cursor':
      return 'cursor is not one this list returned';
    case 'invalid_amount':
      return `${field} must be a decimal string such as "2000.00"`;
    case 'invalid_rate':
      return `${field} must be a rate such as "7.2400" (at most 4 decimals)`;
    case 'too_many_decimals':
      return rate ? `${field} must be a rate such as "7.2400" (at most 4 decimals)` : `${field} has more decimals than allowed`;
    case 'negative':
      return `${field} must not be negative`;
    default:
      throw new Error(`no message for ${code}`);
  }
}

const long = 'a'.repeat(513);
// 300 characters each: a presentation selector, like a surrogate pair, was never counted as a character.
const selectors = encodeURIComponent('a\uFE0F'.repeat(300));
const emoji = encodeURIComponent('\u{1F600}'.repeat(300));

type Case = [query: string, expected: 'ok' | [field: string, code: string][]];

const CASES: Record<string, Case[]> = {
  '/v1/offers': [
    ['limit=0', [['limit', 'too_small']]],
    ['limit=101', [['limit', 'too_large']]],
    ['limit=abc', [['limit', 'too_large']]],
    ['limit=1.5', [['limit', 'not_an_integer']]],
    ['limit=', [['limit', 'too_small']]],
    ['limit', [['limit', 'too_small']]],
    ['limit=-1', [['limit', 'too_small']]],
    ['limit=Infinity', [['limit', 'too_large']]],
    ['limit=-Infinity', [['limit', 'too_small']]],
    ['limit=1e400', [['limit', 'too_large']]],
    ['limit=true', [['limit', 'too_large']]],
    ['limit=5&limit=6', [['limit', 'too_large']]],
    ['limit=1e1', 'ok'],
    ['limit=0x10', 'ok'],
    ['limit=%205', 'ok'],
    ['limit=5%20', 'ok'],
    ['limit=05', 'ok'],
    ['limit=+5', 'ok'],
    ['limit=1', 'ok'],
    ['limit=100', 'ok'],
    [`cursor=${long}`, [['cursor', 'too_long']]],
    ['cursor=a&cursor=b', [['cursor', 'too_long']]],
    [`cursor=${'a'.repeat(512)}`, [['cursor', 'invalid_cursor']]],
    [`cursor=${selectors}`, [['cursor', 'invalid_cursor']]],
    [`cursor=${emoji}`, [['cursor', 'invalid_cursor']]],
    ['cursor=', [['cursor', 'invalid_cursor']]],
    ['cursor=garbage', [['cursor', 'invalid_cursor']]],
    ['paymentMethod=cash', [['paymentMethod', 'not_allowed']]],
    ['paymentMethod=', [['paymentMethod', 'not_allowed']]],
    ['paymentMethod=paypal&paymentMethod=paypal', [['paymentMethod', 'not_allowed']]],
    ['paymentMethod=paypal', 'ok'],
    ['status=nope', [['status', 'not_allowed']]],
    ['status=ACTIVE', [['status', 'not_allowed']]],
    ['status=%E0', [['status', 'not_allowed']]],
    ['status=active&status=paused', [['status', 'not_allowed']]],
    ['status=active', 'ok'],
    ['mine=yes', [['mine', 'not_allowed']]],
    ['mine=1', [['mine', 'not_allowed']]],
    ['mine=', [['mine', 'not_allowed']]],
    ['mine=true&mine=true', [['mine', 'not_allowed']]],
    ['mine=false', 'ok'],
    ['amountCny=abc', [['amountCny', 'invalid_amount']]],
    ['amountCny=12.345', [['amountCny', 'too_many_decimals']]],
    ['amountCny=-5', [['amountCny', 'negative']]],
    ['amountCny=1e3', [['amountCny', 'invalid_amount']]],
    ['amountCny=', [['amountCny', 'invalid_amount']]],
    ['amountCny=1&amountCny=2', [['amountCny', 'invalid_amount']]],
    ['amountCny=500', 'ok'],
    ['minRate=abc', [['minRate', 'invalid_rate']]],
    ['minRate=7.12345', [['minRate', 'too_many_decimals']]],
    ['maxRate=x', [['maxRate', 'invalid_rate']]],
    ['minRate=', [['minRate', 'invalid_rate']]],
    ['minRate=1&minRate=2', [['minRate', 'invalid_rate']]],
    ['maxRate=7.1&minRate=7.3', 'ok'],
    ['sort=desc', [['sort', 'unknown_field']]],
    ['Limit=5', [['Limit', 'unknown_field']]],
    ['limit[]=5', [['limit[]', 'unknown_field']]],
    ['foo', [['foo', 'unknown_field']]],
    ['limit=5&foo', [['foo', 'unknown_field']]],
    ['a%00b=1', [['a\u0000b', 'unknown_field']]],
    [
      'foo=1&bar=2',
      [
        ['foo', 'unknown_field'],
        ['bar', 'unknown_field'],
      ],
    ],
    [
      'limit=0&status=nope&foo=1',
      [
        ['foo', 'unknown_field'],
        ['status', 'not_allowed'],
        ['limit', 'too_small'],
      ],
    ],
    [
      `status=nope&limit=abc&paymentMethod=x&mine=2&cursor=${long}&amountCny=x`,
      [
        ['status', 'not_allowed'],
        ['mine', 'not_allowed'],
        ['limit', 'too_large'],
        ['cursor', 'too_long'],
        ['paymentMethod', 'not_allowed'],
      ],
    ],
    // Names every object has were never taken for unknown parameters.
    ['constructor=1', 'ok'],
    ['toString=1&limit=5', 'ok'],
    ['__proto__=1', 'ok'],
    ['hasOwnProperty=1', 'ok'],
    ['&&', 'ok'],
  ],
  '/v1/requests': [
    ['limit=0', [['limit', 'too_small']]],
    ['limit=abc', [['limit', 'too_large']]],
    ['limit=5&limit=6', [['limit', 'too_large']]],
    ['status=active', [['status', 'not_allowed']]],
    ['status=open&status=filled', [['status', 'not_allowed']]],
    ['paymentMethod=x', [['paymentMethod', 'not_allowed']]],
    ['minCny=abc', [['minCny', 'invalid_amount']]],
    ['maxCny=1.234', [['maxCny', 'too_many_decimals']]],
    ['minCny=1&minCny=2', [['minCny', 'invalid_amount']]],
    ['minRate=abc', [['minRate', 'invalid_rate']]],
    ['amountCny=5', [['amountCny', 'unknown_field']]],
    ['mine=true', [['mine', 'unknown_field']]],
    [`cursor=${long}`, [['cursor', 'too_long']]],
    ['cursor=junk', [['cursor', 'invalid_cursor']]],
    [
      'foo=1&limit=101&status=x',
      [
        ['foo', 'unknown_field'],
        ['status', 'not_allowed'],
        ['limit', 'too_large'],
      ],
    ],
    ['status=cancelled&limit=100&minCny=1.00&maxRate=9', 'ok'],
  ],
  '/v1/trades': [
    ['limit=0', [['limit', 'too_small']]],
    ['limit=abc', [['limit', 'too_large']]],
    ['limit=2.5', [['limit', 'not_an_integer']]],
    ['limit=5&limit=6', [['limit', 'too_large']]],
    ['state=bogus', [['state', 'not_allowed']]],
    ['state=completed&state=funded', [['state', 'not_allowed']]],
    ['status=open', [['status', 'unknown_field']]],
    [`cursor=${long}`, [['cursor', 'too_long']]],
    ['cursor=junk', [['cursor', 'invalid_cursor']]],
    [
      'state=&limit=',
      [
        ['state', 'not_allowed'],
        ['limit', 'too_small'],
      ],
    ],
    [
      'limit=0&state=x&z=1',
      [
        ['z', 'unknown_field'],
        ['state', 'not_allowed'],
        ['limit', 'too_small'],
      ],
    ],
    ['state=completed&limit=100', 'ok'],
  ],
};

describe('queries of the hot lists (HTTP)', () => {
  const { api } = useTestApp({}, { reference: '7.2400' });
  let traveler: TestUser;

  beforeAll(async () => {
    traveler = await registerUser(api, 'traveler');
  });

  for (const [path, cases] of Object.entries(CASES))
    describe(`GET ${path}`, () => {
      it.each(cases)('?%s', async (query, expected) => {
        const response = await api('GET', `${path}?${query}`, { token: traveler.token });
        if (expected === 'ok') {
          expect(response.status).toBe(200);
          expect(response.body.data).toEqual(expect.any(Array));
          return;
        }
        const errors = expected.map(([field, code]) => ({ field, code, message: message(path, field, code) }));
        expect(response.status).toBe(400);
        expect(response.headers.get('content-type')).toContain('application/problem+json');
        expect(response.body).toEqual({
          type: expect.stringMatching(/validation_failed$/),
          title: 'Validation failed',
          status: 400,
          detail: `Invalid value for: ${expected.map(([field]) => field).join(', ')}`,
          code: 'validation_failed',
          instance: expect.any(String),
          errors,
        });
      });

      it('a bad query without credentials: 401 first, as before any check of the query', async () => {
        const response = await api('GET', `${path}?limit=0&foo=1`);
        expect(response.status).toBe(401);
        expect(response.body.code).toBe('unauthenticated');
      });

      it('HEAD answers as GET does, without a body', async () => {
        const good = await api('HEAD', `${path}?limit=5`, { token: traveler.token });
        expect(good.status).toBe(200);
        const bad = await api('HEAD', `${path}?limit=0`, { token: traveler.token });
        expect(bad.status).toBe(400);
        expect(bad.text).toBe('');
      });
    });

  it('a good query reaches the list as sent: its filters and page size apply', async () => {
    const page = await api('GET', '/v1/offers?limit=1e1&status=active&mine=false', { token: traveler.token });
    expect(page.status).toBe(200);
    expect(page.body).toEqual({ data: [], nextCursor: null, referenceRate: '7.2400' });
  });
});
