import 'reflect-metadata';
import Fastify, { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createValidationPipe, DomainError } from '../../common/errors';
import { checkedQuery, fieldOrder, queryRules } from '../../common/http/schema-query';
import { ListOffersQuery, ListRequestsQuery } from '../../market/dto/market.dto';
import { ListTradesQuery } from '../../trades/dto/trades.dto';
import { QUERY_SCHEMA_ROUTES, queryParametersOf, querySchemas } from './query-schemas';
import type { JsonSchema } from './response-schemas';

// The document the service builds at start; the openapi drift check keeps this copy equal to it.
const committed = JSON.parse(readFileSync(join(__dirname, '../../../openapi.json'), 'utf8')) as JsonSchema;

const LISTS = [
  { path: '/v1/offers', type: ListOffersQuery },
  { path: '/v1/requests', type: ListRequestsQuery },
  { path: '/v1/trades', type: ListTradesQuery },
];

// Values that class-validator took or refused in every way it could: bounds, kinds, repeats, odd numerals.
const VALUES = ['', '0', '1', '20', '100', '101', '-1', '1.5', '1e1', '0x10', ' 5', 'abc', 'Infinity', '-Infinity', '1e400', 'true'];
const TEXTS = ['', 'x', 'a'.repeat(512), 'a'.repeat(513), '\u{1F600}'.repeat(300), 'a\uFE0F'.repeat(300)];

function candidates(name: string, schema: JsonSchema): string[][] {
  const own = [...VALUES, ...TEXTS, ...((schema.enum as string[] | undefined) ?? [])];
  return [...own.map((value) => [value]), [own[1], own[2]], ['paypal', 'paypal']].map((values) =>
    values.map((value) => `${name}=${encodeURIComponent(value)}`),
  );
}

/** Two routes on one Fastify: the query checked by class-validator as the global pipe did, and by its schema. */
async function judges(path: string, type: (typeof LISTS)[number]['type']): Promise<FastifyInstance> {
  const rules = queryRules(queryParametersOf(committed, path)!);
  const order = fieldOrder(type);
  const pipe = createValidationPipe();
  const outcome = async (check: () => unknown) => {
    try {
      return { query: JSON.parse(JSON.stringify(await check())) as unknown };
    } catch (error) {
      if (error instanceof DomainError) return { problem: error.detail, errors: error.extensions.errors };
      throw error;
    }
  };
  const app = Fastify();
  app.get('/class-validator', (request) => outcome(() => pipe.transform(request.query, { type: 'query', metatype: type })));
  app.get('/schema', { schema: { querystring: rules.schema }, attachValidation: true }, (request) =>
    outcome(() => checkedQuery(rules, request.query as Record<string, unknown>, request.validationError !== undefined, order)),
  );
  await app.ready();
  return app;
}

describe('query schemas made from the committed document', () => {
  it('cover every listed route, and refuse parameters they cannot check', () => {
    expect([...querySchemas(committed).keys()]).toEqual(QUERY_SCHEMA_ROUTES);
    expect(() => queryRules([{ name: 'since', schema: { type: 'string', format: 'date-time', minLength: 3 } }])).toThrow(/minLength/);
    expect(() => queryRules([{ name: 'flag', schema: { type: 'boolean' } }])).toThrow(/boolean/);
  });

  it.each(LISTS)(
    '$path: every query is judged as class-validator judged it, field errors and their order included',
    async ({ path, type }) => {
      const app = await judges(path, type);
      const parameters = queryParametersOf(committed, path)!;
      const singles = parameters.flatMap(({ name, schema }) => candidates(name, schema));
      const unknown = [['foo=1'], ['constructor=1'], ['toString=x', 'limit=5'], ['Limit=5'], ['foo=1', 'bar=2']];
      // Pairs of bad and good fields, in both orders, with an unknown one among them.
      const pairs = singles.flatMap((first, index) => [
        [...first, ...singles[(index * 7 + 3) % singles.length]],
        [...singles[(index * 5 + 1) % singles.length], 'zz=1', ...first],
      ]);
      const queries = [...singles, ...unknown, ...pairs].map((parts) => parts.join('&'));
      let refused = 0;
      for (const query of queries) {
        const [expected, actual] = await Promise.all(
          ['class-validator', 'schema'].map(async (route) =>
            (await app.inject(`/${route}?${query}`)).json<{ query?: Record<string, unknown> }>(),
          ),
        );
        // Names every object has (constructor…) were let through and never read: only the documented fields count.
        const documented = (outcome: { query?: Record<string, unknown> }) =>
          outcome.query
            ? {
                query: Object.fromEntries(
                  parameters.filter(({ name }) => outcome.query![name] !== undefined).map(({ name }) => [name, outcome.query![name]]),
                ),
              }
            : outcome;
        expect({ query, ...documented(actual) }).toEqual({ query, ...documented(expected) });
        if (!expected.query) refused += 1;
      }
      // The corpus did exercise both outcomes.
      expect(refused).toBeGreaterThan(queries.length / 4);
      expect(refused).toBeLessThan(queries.length);
      await app.close();
    },
  );
});
