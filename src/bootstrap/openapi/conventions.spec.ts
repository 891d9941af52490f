import { toOpenApi31 } from './conventions';
import { serializeDocument } from './serialize';

describe('toOpenApi31', () => {
  it('writes nullable as null among the types, in an enum too', () => {
    expect(toOpenApi31({ type: 'string', nullable: true, format: 'uuid' })).toEqual({ type: ['string', 'null'], format: 'uuid' });
    expect(toOpenApi31({ type: 'string', enum: ['a', 'b'], nullable: true })).toEqual({ type: ['string', 'null'], enum: ['a', 'b', null] });
  });

  it('offers null beside a referenced schema, keeping the description outside', () => {
    expect(toOpenApi31({ allOf: [{ $ref: '#/components/schemas/X' }], nullable: true, description: 'd' })).toEqual({
      description: 'd',
      anyOf: [{ allOf: [{ $ref: '#/components/schemas/X' }] }, { type: 'null' }],
    });
  });

  it('rewrites nested schemas and leaves others alone', () => {
    expect(toOpenApi31({ properties: { a: { type: 'integer', nullable: true }, b: { type: 'string' } } })).toEqual({
      properties: { a: { type: ['integer', 'null'] }, b: { type: 'string' } },
    });
  });
});

describe('serializeDocument', () => {
  it('sorts keys at every level and keeps array order, so equal documents are equal text', () => {
    expect(serializeDocument({ b: 1, a: { d: [3, 1], c: null } })).toBe(serializeDocument({ a: { c: null, d: [3, 1] }, b: 1 }));
    expect(serializeDocument({ b: 1, a: 2 })).toBe('{\n  "a": 2,\n  "b": 1\n}\n');
  });
});
