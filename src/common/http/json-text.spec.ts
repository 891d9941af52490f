import { jsonHasLoneSurrogate, jsonNestedDeeperThan } from './json-text';

describe('jsonNestedDeeperThan', () => {
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  it('counts arrays and objects alike, up to the limit inclusive', () => {
    expect(jsonNestedDeeperThan(nested(32), 32)).toBe(false);
    expect(jsonNestedDeeperThan(nested(33), 32)).toBe(true);
    expect(jsonNestedDeeperThan('{"a":{"b":[{"c":1}]}}', 4)).toBe(false);
    expect(jsonNestedDeeperThan('{"a":{"b":[{"c":1}]}}', 3)).toBe(true);
  });

  it('measures the deepest point, not the number of brackets', () => {
    expect(jsonNestedDeeperThan(`[${Array(1000).fill('[1]').join(',')}]`, 2)).toBe(false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(jsonNestedDeeperThan(JSON.stringify({ a: '[[[[[[{{{{' }), 1)).toBe(false);
    expect(jsonNestedDeeperThan(JSON.stringify({ a: 'say \\"[[[[ "' }), 1)).toBe(false);
    expect(jsonNestedDeeperThan(JSON.stringify({ a: '\\' }) + '[[[]]]', 2)).toBe(true);
  });

  it('scans a body of a hundred thousand brackets without recursion', () => {
    expect(jsonNestedDeeperThan(nested(100000), 32)).toBe(true);
    expect(jsonNestedDeeperThan('['.repeat(100000), 32)).toBe(true);
  });

  it('agrees with JSON.parse on the depth of values it builds', () => {
    const value = { a: [{ b: { c: [[1, { d: 'x]}' }]] } }] };
    expect(jsonNestedDeeperThan(JSON.stringify(value), 7)).toBe(false);
    expect(jsonNestedDeeperThan(JSON.stringify(value), 6)).toBe(true);
  });
});

describe('jsonHasLoneSurrogate', () => {
  it('finds a high or low half escaped alone, anywhere in a string', () => {
    for (const text of [
      '"\\ud800"',
      '"a\\uD83Db"',
      '"\\udc00"',
      '{"k\\udfff":1}',
      '["x\\ud83d\\ud83d\\ude00"]',
      '"\\ud83d\\u0041"',
      '"\\ud83d',
    ])
      expect([text, jsonHasLoneSurrogate(text)]).toEqual([text, true]);
  });

  it('accepts pairs, raw characters, other escapes and text that only looks like an escape', () => {
    for (const text of [JSON.stringify({ a: '😀 é 中' }), '"\\ud83d\\ude00"', '"\\u00e9\\n\\"q\\""', '"\\\\ud800"', '{"a":1}', 'ud800'])
      expect([text, jsonHasLoneSurrogate(text)]).toEqual([text, false]);
  });

  it('agrees with a search for lone halves in what JSON.parse builds', () => {
    const lone = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
    for (const text of ['"\\ud800x"', '"\\ud83d\\ude00"', '"\\\\ud800"', '"\\udc00\\ud800"', '"é\\ud83d\\ude00\\udc00"']) {
      const parsed = JSON.parse(text) as string;
      expect(jsonHasLoneSurrogate(text)).toBe(lone.test(parsed));
    }
  });
});
