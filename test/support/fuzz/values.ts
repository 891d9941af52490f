import fc from 'fast-check';

/** A long string built only when the body is serialized, so thousands of generated cases stay small. */
export class Filler {
  constructor(
    readonly char: string,
    readonly length: number,
  ) {}
}

/** JSON text put in the body as is (numbers JSON.stringify cannot write, such as 1e400). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** A cursor made from one the list really returned, with one value replaced, or `undefined` for it as is. */
export class CursorFrom {
  constructor(readonly replacement?: unknown) {}
}

/** JSON text of a value that may hold Fillers and RawJson. */
export function serialize(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Filler) return v.char.repeat(v.length);
    if (v instanceof RawJson) {
      raws.push(v.text);
      return `__fuzz_raw_${raws.length - 1}__`;
    }
    return v;
  });
  return raws.reduce((out, raw, i) => out.replace(`"__fuzz_raw_${i}__"`, raw), text ?? 'null');
}

export function describeValue(value: unknown): string {
  const text = serialize(value);
  return text.length > 120 ? `${text.slice(0, 100)}…(${text.length} chars)` : text;
}

/** Amounts and rates as API.md refuses or must handle them. */
export const BAD_DECIMALS: unknown[] = [
  '-1',
  '0',
  '0.00',
  '-0',
  '1.001',
  '12.345678',
  '1e3',
  '1e-2',
  'NaN',
  'Infinity',
  '-Infinity',
  '',
  ' ',
  ' 1',
  '1 ',
  '1,000',
  '1.',
  '.5',
  '+1',
  '0x10',
  '00001',
  '1_000',
  '１２３',
  '١٢٣',
  '10.0O',
  '99999999999999999999.99',
  '9'.repeat(40),
  '0.' + '0'.repeat(30) + '1',
  1.5,
  100,
  0,
  -1,
  new RawJson('1e400'),
  new RawJson('-0'),
  new RawJson('123456789012345678901234567890'),
  null,
  true,
  [],
  {},
  ['10.00'],
  { amount: '10.00' },
];

export const BAD_NUMBERS: unknown[] = [
  -1,
  0,
  1.5,
  -0.0001,
  2 ** 53 + 1,
  1e308,
  -1e308,
  2147483648,
  -2147483649,
  '5',
  '',
  'NaN',
  true,
  null,
  [],
  {},
  [1],
  new RawJson('1e400'),
  new RawJson('-1e400'),
  new RawJson('1' + '0'.repeat(400)),
  new RawJson('1.0000000000000000001'),
];

export const BAD_STRINGS: unknown[] = [
  '',
  ' ',
  '\t\n',
  'null',
  'undefined',
  'true',
  '0',
  "' OR 1=1 --",
  '"; DROP TABLE users; --',
  '../../etc/passwd',
  '%00',
  '${7*7}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '\u202etxt.exe',
  '\u200b',
  '\ud800',
  '\udfff\ud800',
  '😀'.repeat(200),
  'a\r\nSet-Cookie: x=1',
  '\\',
  '\\u0000',
  new Filler('a', 300),
  new Filler('é', 5000),
  new Filler('x', 20000),
  new Filler('[', 5000),
  42,
  1.5,
  true,
  false,
  null,
  [],
  ['a'],
  {},
  { $gt: '' },
  { ['__proto__']: { admin: true } },
];

const BAD_IDS_RAW = [
  'not-a-uuid',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF',
  '{c9bf9e57-1685-4c89-bafb-ff5af830be8a}',
  'c9bf9e57-1685-4c89-bafb-ff5af830be8a0',
  'c9bf9e57-1685-4c89-bafb-ff5af830be8g',
  'c9bf9e5716854c89bafbff5af830be8a',
  '1',
  '-1',
  '0',
  'null',
  'undefined',
  'a'.repeat(101),
  'a'.repeat(2000),
  '%00',
  '%',
  '%zz',
  '%2e%2e',
  '..',
  '%E2%80%AE',
  '%C0%AF',
  '%F0%9F%98%80',
  "'%20OR%201%3D1--",
  'c9bf9e57-1685-4c89-bafb-ff5af830be8a%3B',
  '%20',
  'true',
];

/** Path segments: bad UUIDs, junk, invalid percent-encoding, long. Already safe for a request line. */
export const badPathSegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...BAD_IDS_RAW) },
  { weight: 1, arbitrary: fc.uuid().map((id) => id.toUpperCase()) },
  { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 60, unit: 'binary' }).map(encodeLoosely) },
);

/** Any JSON-ish junk: values of every type, nested within the depth limit or not. */
export const junkJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...BAD_STRINGS, ...BAD_NUMBERS, ...BAD_DECIMALS) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double({ noNaN: true })) },
  { weight: 1, arbitrary: fc.integer({ min: 20, max: 40 }).map((depth) => nestedArrays(depth)) },
);

export function nestedArrays(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** Bodies nested too deep (balanced or not), as text: 20,000 `[` made the service answer 500. */
export const deepBody: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(33, 64, 1000, 20000), fc.constantFrom('[', '{"a":'), fc.boolean(), fc.boolean())
  .map(([depth, open, balanced, asField]) => {
    const close = open === '[' ? ']' : '}';
    const core = open === '[' ? '[1' : '{"a":1';
    const body = open.repeat(depth - 1) + core + (balanced ? close.repeat(depth) : '');
    return asField ? `{"field":${body}${balanced ? '}' : ''}` : body;
  });

export const MALFORMED_BODIES = [
  '{',
  '}',
  '{"a":',
  '{"a":1,}',
  "{'a':1}",
  '{"a":NaN}',
  '{"a":Infinity}',
  '{a:1}',
  '{"a":1}//',
  '/*x*/{}',
  '\ufeff{}',
  '{"a":"\\x41"}',
  '{"a":"\\u12"}',
  '{"a":"line\nbreak"}',
  '{"a":1}{"b":2}',
  'nul',
  'tru',
  '"unterminated',
  '[1,2',
  '{"a":1e}',
  '{"a":-}',
  '{"a":01}',
  '{"a":.5}',
  '\u0000',
  '{"\\u0000":1}',
  '{"a":"\\ud800"}',
  ' ',
  '\n',
];

export const CONTENT_TYPES: (string | null)[] = [
  'application/x-www-form-urlencoded',
  'text/plain',
  null,
  'multipart/form-data; boundary=fuzz',
  'application/xml',
  'application/json; charset=utf-16',
  'application/json; charset=iso-8859-1',
  'APPLICATION/JSON',
  'application/vnd.api+json',
  'application/problem+json',
  'application/json;',
  'application/jsonx',
  '*/*',
  'application/octet-stream',
  'text/html',
  'application/json, text/plain',
  'text/json',
];

export const NON_OBJECT_BODIES: unknown[] = [[], [{}], 'a string', 42, 0, -1, true, false, null, [null], ['a', 'b']];

export const EXTRA_FIELDS: Record<string, unknown>[] = [
  { isAdmin: true },
  { role: 'operator' },
  { tier: 2 },
  { id: '00000000-0000-0000-0000-000000000000' },
  { createdAt: '2000-01-01T00:00:00Z' },
  { constructor: { prototype: { polluted: true } } },
  { ['__proto__']: { polluted: true } },
  { '': 1 },
  { 'a.b': 1 },
  { [new Array(300).fill('k').join('')]: 1 },
];

export const BAD_QUERY_NUMBERS = ['0', '-1', '101', '1.5', '1e3', 'abc', '', '9'.repeat(30), 'NaN', 'Infinity', ' 5', '0x10', '1,2'];
export const BAD_QUERY_BOOLEANS = ['yes', '1', 'TRUE', '', 'null', 'maybe', '0'];
/** Already encoded for a query string; some deliberately badly. */
export const BAD_QUERY_STRINGS = [
  '',
  '%20',
  'x'.repeat(600),
  "'%20OR%201%3D1%20--",
  '%00',
  '%',
  '%zz',
  '%E2%80%AE',
  'null',
  '[]',
  '{}',
  '%ED%A0%80',
];

/** encodeURIComponent refuses lone surrogates; they go as the bytes a careless client would send. */
export function encodeLoosely(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return encodeURIComponent(value.replace(/[\ud800-\udfff]/g, '?')) + '%ED%A0%80';
  }
}
