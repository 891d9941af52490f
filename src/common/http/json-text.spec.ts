import { jsonNestedDeeperThan } from './json-depth';

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
