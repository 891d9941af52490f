import fc from 'fast-check';
import { canonicalJson, hashBody } from './canonical-json';

describe('canonicalJson', () => {
  it('ignores key order at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
  });

  it('tells different values apart', () => {
    expect(hashBody({ amountCny: '10.00' })).not.toBe(hashBody({ amountCny: '10.0' }));
    expect(hashBody({ a: 1 })).not.toBe(hashBody({ a: '1' }));
    expect(hashBody([1, 2])).not.toBe(hashBody([2, 1]));
  });

  it('hashes a parsed value and its key-shuffled copy the same', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const shuffled = JSON.parse(
          JSON.stringify(value, (_k, v) =>
            v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
          ),
        );
        expect(hashBody(shuffled)).toBe(hashBody(value));
      }),
    );
  });
});
