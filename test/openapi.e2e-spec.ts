import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareDocuments, describeChanges, jsonDifferences } from '../src/bootstrap/openapi/breaking-changes';
import { serializeDocument } from '../src/bootstrap/openapi/serialize';
import { fundedTrade } from './support/trades';
import { readyCounterparty, readyTraveler } from './support/market';
import { settling } from './support/settings';
import { useTestApp } from './support/use-test-app';

type Json = Record<string, any>;
/** Its body is the caller's own password, which no example can know. */
const SKIPPED = new Set(['deleteAccount']);
const COMMITTED = join(__dirname, '..', 'openapi.json');

function resolve(document: Json, schema: Json | undefined): Json {
  let current = schema ?? {};
  while (typeof current.$ref === 'string')
    current = current.$ref
      .slice(2)
      .split('/')
      .reduce((node: Json, key: string) => node[key], document);
  return current;
}

/** The example body a documentation viewer builds from a schema (Swagger UI's rules: examples, then defaults, then placeholders). */
function exampleOf(document: Json, raw: Json | undefined, depth = 0): unknown {
  const schema = resolve(document, raw);
  if (schema.example !== undefined) return schema.example;
  if (schema.default !== undefined) return schema.default;
  const variants = schema.oneOf ?? schema.anyOf;
  if (variants)
    return exampleOf(
      document,
      variants.find((variant: Json) => variant.type !== 'null'),
      depth + 1,
    );
  if (schema.allOf) return Object.assign({}, ...schema.allOf.map((part: Json) => exampleOf(document, part, depth + 1)));
  if (schema.enum) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== 'null') : schema.type;
  if (type === 'object' || schema.properties) {
    if (depth > 8) return {};
    return Object.fromEntries(
      Object.entries(schema.properties ?? {}).map(([name, property]) => [name, exampleOf(document, property as Json, depth + 1)]),
    );
  }
  if (type === 'array') return [exampleOf(document, schema.items, depth + 1)];
  if (type === 'integer' || type === 'number') return schema.minimum ?? 0;
  if (type === 'boolean') return true;
  const formats: Record<string, string> = {
    email: 'user@example.com',
    uuid: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
    'date-time': new Date().toISOString(),
    uri: 'https://example.com/',
  };
  return formats[schema.format] ?? 'string';
}

describe('the OpenAPI document', () => {
  const { api, operator } = useTestApp(settling, { reference: '7.2400', operator: true });
  let served: Json;

  beforeAll(async () => {
    const response = await api('GET', '/docs-json');
    expect(response.status).toBe(200);
    served = response.body;
  });

  it('is the committed openapi.json (regenerate it with `npm run openapi`)', () => {
    const committed = JSON.parse(readFileSync(COMMITTED, 'utf8'));
    if (serializeDocument(served) === readFileSync(COMMITTED, 'utf8')) return;
    const changes = compareDocuments(committed, served);
    throw new Error(
      [
        'The served OpenAPI document differs from the committed openapi.json. Run `npm run openapi` and commit openapi.json.',
        '',
        'Differences (committed → served):',
        ...jsonDifferences(committed, served),
        '',
        'For clients of the committed document:',
        describeChanges(changes) || '(no change to paths, fields, types or enums)',
      ].join('\n'),
    );
  });

  it('is a 3.1 document whose every reference resolves, with a response schema for every /v1 answer that has a body', () => {
    expect(served.openapi).toBe('3.1.0');
    const dangling: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (Array.isArray(node)) node.forEach((item, index) => walk(item, `${at}/${index}`));
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          const refs = key === '$ref' ? [value] : key === 'mapping' ? Object.values(value as Json) : [];
          for (const ref of refs) {
            const target = String(ref)
              .slice(2)
              .split('/')
              .reduce((found: any, part) => found?.[part], served);
            if (target === undefined) dangling.push(`${at}: ${String(ref)}`);
          }
          if (key !== '$ref') walk(value, `${at}/${key}`);
        }
      }
    };
    walk(served, '');
    expect(dangling).toEqual([]);
    const untyped = Object.entries(served.paths as Record<string, Json>)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, item]) =>
        Object.entries(item).flatMap(([method, operation]) =>
          Object.entries(operation.responses as Record<string, Json>)
            .filter(([status, response]) => Number(status) < 300 && status !== '204' && !response.content)
            .map(([status]) => `${method.toUpperCase()} ${path} ${status}`),
        ),
      );
    expect(untyped).toEqual([]);
  });

  it('names every operation once, with a summary', () => {
    const operations = Object.values(served.paths).flatMap((item: any) => Object.values(item)) as Json[];
    const ids = operations.map((operation) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(operations.filter((operation) => !operation.summary || !/^[a-z][A-Za-z0-9]+$/.test(operation.operationId))).toEqual([]);
  });

  it('accepts the documented example body of every /v1 operation', async () => {
    const traveler = await readyTraveler(api);
    const counterparty = await readyCounterparty(api);
    const request = await api('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny: '3000', price: { type: 'fixed', rate: '7.2400' }, paymentMethod: 'paypal' },
    });
    const offer = await api('POST', '/v1/offers', {
      token: counterparty.token,
      body: {
        minCny: '100',
        maxCny: '3000',
        totalCny: '9000',
        price: { type: 'fixed', rate: '7.2400' },
        paymentMethods: ['paypal', 'bank_transfer'],
      },
    });
    const funded = await fundedTrade(api);
    const dispute = await api('POST', `/v1/trades/${funded.trade.id}/disputes`, {
      token: funded.traveler.token,
      body: { reason: 'not_received', statement: 'no RMB yet' },
    });
    const ids: Record<string, string> = {
      requests: request.body.id,
      offers: offer.body.id,
      trades: funded.trade.id,
      disputes: dispute.body.id ?? randomUUID(),
      users: funded.counterparty.id,
    };
    const callers = [traveler.token, counterparty.token, funded.traveler.token, funded.counterparty.token, operator.token, undefined];

    const refused: string[] = [];
    for (const [template, item] of Object.entries(served.paths as Record<string, Json>)) {
      if (!template.startsWith('/v1/') || template.startsWith('/v1/provider-webhooks/')) continue;
      for (const [method, operation] of Object.entries(item)) {
        const content = operation.requestBody?.content?.['application/json'];
        if (!content) continue;
        if (SKIPPED.has(operation.operationId)) continue;
        const bodies = content.examples
          ? Object.values(content.examples as Json).map((example) => example.value)
          : [exampleOf(served, content.schema)];
        for (const body of bodies) {
          const collection = template.split('/')[template.startsWith('/v1/admin/') ? 3 : 2];
          const path = template.replace('{id}', ids[collection] ?? randomUUID());
          const answers = [];
          for (const token of callers) {
            const response = await api(method.toUpperCase(), path, { token, body, headers: { 'idempotency-key': randomUUID() } });
            answers.push(response);
            if (![401, 403].includes(response.status)) break;
          }
          const last = answers[answers.length - 1];
          if (
            ['validation_failed', 'malformed_json'].includes(last.body?.code) ||
            (operation.security?.length > 0 && [401, 403].includes(last.status)) ||
            last.status >= 500
          ) {
            refused.push(`${operation.operationId} ${JSON.stringify(body)} → ${last.status} ${last.text.slice(0, 300)}`);
          }
        }
      }
    }
    expect(refused).toEqual([]);
  });
});
