import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { JsonSchema, responseSchemaOf, selfContained, undeclaredKeys } from './response-schemas';
import { serializedSchemas, SERIALIZED_ROUTES } from './response-serializers';

// The serializer compiler Fastify itself compiles response schemas with.
const fastJson = createRequire(require.resolve('fastify'))('fast-json-stringify') as (schema: JsonSchema) => (value: unknown) => string;
const committed = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'openapi.json'), 'utf8')) as JsonSchema;

const document: JsonSchema = {
  paths: {
    '/v1/things': { get: { responses: { '200': { content: { 'application/json': { schema: { $ref: '#/components/schemas/Page' } } } } } } },
  },
  components: {
    schemas: {
      Page: {
        type: 'object',
        properties: {
          data: { type: 'array', items: { $ref: '#/components/schemas/Thing' } },
          nextCursor: { type: ['string', 'null'], description: 'x' },
        },
        required: ['data', 'nextCursor'],
      },
      Thing: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid', example: 'e' },
          price: {
            oneOf: [{ $ref: '#/components/schemas/Fixed' }, { $ref: '#/components/schemas/Floating' }],
            discriminator: { propertyName: 'type', mapping: { fixed: '#/components/schemas/Fixed' } },
          },
          metadata: { type: 'object' },
          at: { type: 'string', format: 'date-time', pattern: '^.*$' },
        },
        required: ['id', 'price'],
      },
      Fixed: {
        type: 'object',
        properties: { type: { type: 'string', enum: ['fixed'] }, rate: { type: 'string' } },
        required: ['type', 'rate'],
      },
      Floating: {
        type: 'object',
        properties: { type: { type: 'string', enum: ['floating'] }, premiumBps: { type: 'number' } },
        required: ['type', 'premiumBps'],
      },
      Loop: { type: 'object', properties: { next: { $ref: '#/components/schemas/Loop' } } },
    },
  },
};

const thing = (price: object, extra: object = {}) => ({
  id: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  price,
  metadata: { any: ['thing', 1] },
  at: '2026-12-06T10:00:00.000Z',
  ...extra,
});

describe('responseSchemaOf', () => {
  const schema = responseSchemaOf(document, 'GET', '/v1/things')!;

  it('inlines references and keeps only what serialization reads', () => {
    const item = (schema.properties as Record<string, JsonSchema>).data.items as JsonSchema;
    const properties = item.properties as Record<string, JsonSchema>;
    expect(properties.id).toEqual({ type: 'string', format: 'uuid' });
    expect(properties.at).toEqual({ type: 'string', format: 'date-time' });
    expect(properties.price.discriminator).toBeUndefined();
    expect((properties.price.oneOf as JsonSchema[])[1]).toEqual(document.components && (document.components as any).schemas.Floating);
    // A free-form object is written whole.
    expect(properties.metadata).toEqual({});
    expect(JSON.stringify(schema)).not.toContain('$ref');
  });

  it('is undefined for a route the document lacks, and refuses a recursive schema', () => {
    expect(responseSchemaOf(document, 'GET', '/v1/nothing')).toBeUndefined();
    expect(() => selfContained(document, { $ref: '#/components/schemas/Loop' })).toThrow('Recursive schema');
    expect(() => selfContained(document, { $ref: '#/components/schemas/Missing' })).toThrow('Unresolved reference');
  });

  it('compiles to a serializer that writes what JSON.stringify writes, both price variants and null included', () => {
    const serialize = fastJson(schema);
    const page = { data: [thing({ type: 'fixed', rate: '7.2000' }), thing({ type: 'floating', premiumBps: -150 })], nextCursor: null };
    expect(JSON.parse(serialize(page))).toEqual(page);
    const next = { ...page, nextCursor: 'abc' };
    expect(JSON.parse(serialize(next))).toEqual(next);
  });
});

describe('undeclaredKeys', () => {
  const schema = responseSchemaOf(document, 'GET', '/v1/things')!;

  it('finds none in what the schema declares', () => {
    expect(undeclaredKeys(schema, { data: [thing({ type: 'fixed', rate: '7.2000' })], nextCursor: null })).toEqual([]);
  });

  it('finds the keys a compiled serializer would drop, at any depth and in the matching variant', () => {
    const page = {
      data: [thing({ type: 'fixed', rate: '7.2000' }, { extra: 1 }), thing({ type: 'floating', premiumBps: 5, rate: '7.1' })],
      nextCursor: null,
      total: 2,
    };
    expect(undeclaredKeys(schema, page)).toEqual(['$.data[0].extra', '$.data[1].price.rate', '$.total']);
    // What the test guards against: the serializer drops them.
    expect(JSON.parse(fastJson(schema)(page))).not.toEqual(page);
  });

  it('reports a value no variant matches', () => {
    expect(undeclaredKeys(schema, { data: [thing({ type: 'tiered' })], nextCursor: null })).toEqual([
      '$.data[0].price (no variant matches)',
    ]);
  });
});

describe('the serialized routes in the committed document', () => {
  it('all have a self-contained 200 schema that compiles', () => {
    const schemas = serializedSchemas(committed);
    expect(schemas.size).toBe(SERIALIZED_ROUTES.length);
    for (const schema of schemas.values()) {
      expect(JSON.stringify(schema)).not.toContain('$ref');
      expect(typeof fastJson(schema)).toBe('function');
    }
  });
});
