import { compareDocuments, jsonDifferences } from './breaking-changes';

const view = {
  type: 'object',
  required: ['id', 'status', 'amountCny'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    status: { type: 'string', enum: ['open', 'filled'] },
    amountCny: { type: 'string' },
    note: { type: ['string', 'null'] },
  },
};
const body = { type: 'object', required: ['amountCny'], properties: { amountCny: { type: 'string' }, memo: { type: 'string' } } };

function document(mutate: (doc: any) => void = () => undefined) {
  const doc: any = {
    openapi: '3.1.0',
    components: { schemas: { View: structuredClone(view), Body: structuredClone(body) } },
    paths: {
      '/v1/things': {
        get: {
          parameters: [{ name: 'limit', in: 'query', required: false, schema: { type: 'integer' } }],
          responses: { '200': { content: { 'application/json': { schema: { $ref: '#/components/schemas/View' } } } } },
        },
        post: {
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Body' } } } },
          responses: { '201': { content: { 'application/json': { schema: { $ref: '#/components/schemas/View' } } } } },
        },
      },
      '/v1/other': { get: { responses: { '200': { description: 'ok' } } } },
    },
  };
  mutate(doc);
  return doc;
}

const breaking = (mutate: (doc: any) => void) =>
  compareDocuments(document(), document(mutate))
    .filter((change) => change.breaking)
    .map((change) => `${change.where}: ${change.what}`);

describe('compareDocuments', () => {
  it('finds nothing between equal documents', () => {
    expect(compareDocuments(document(), document())).toEqual([]);
  });

  it('reports a removed path and a removed method as breaking', () => {
    expect(breaking((doc) => delete doc.paths['/v1/other'])).toEqual(['/v1/other: path removed']);
    expect(breaking((doc) => delete doc.paths['/v1/things'].post)).toEqual(['POST /v1/things: method removed']);
  });

  it('reports a removed response field and a removed enum value as breaking', () => {
    expect(breaking((doc) => delete doc.components.schemas.View.properties.note)).toEqual([
      'GET /v1/things 200 application/json.note: response field removed',
    ]);
    expect(breaking((doc) => (doc.components.schemas.View.properties.status.enum = ['open']))).toEqual([
      'GET /v1/things 200 application/json.status: enum values removed: filled',
    ]);
  });

  it('reports a changed type, a removed request field and a newly required one as breaking', () => {
    expect(breaking((doc) => (doc.components.schemas.View.properties.amountCny.type = 'number'))).toEqual([
      'GET /v1/things 200 application/json.amountCny: type changed from string to number',
    ]);
    expect(breaking((doc) => delete doc.components.schemas.Body.properties.memo)).toEqual([
      'POST /v1/things body.memo: request field removed',
    ]);
    expect(breaking((doc) => doc.components.schemas.Body.required.push('memo'))).toEqual([
      'POST /v1/things body.memo: request field now required',
    ]);
    expect(
      breaking((doc) => {
        doc.components.schemas.Body.properties.code = { type: 'string' };
        doc.components.schemas.Body.required.push('code');
      }),
    ).toEqual(['POST /v1/things body.code: new required request field']);
    expect(breaking((doc) => (doc.paths['/v1/things'].get.parameters[0].required = true))).toEqual([
      'GET /v1/things parameter query:limit: parameter now required',
    ]);
  });

  it('classifies additions as additive: a path, a response field, an optional request field, an enum value', () => {
    const changes = compareDocuments(
      document(),
      document((doc) => {
        doc.paths['/v1/new'] = { get: { responses: {} } };
        doc.components.schemas.View.properties.extra = { type: 'string' };
        doc.components.schemas.Body.properties.hint = { type: 'string' };
        doc.components.schemas.View.properties.status.enum.push('cancelled');
      }),
    );
    expect(changes.length).toBeGreaterThanOrEqual(4);
    expect(changes.filter((change) => change.breaking)).toEqual([]);
  });

  it('reports a response that may now be null as breaking, and a request that now accepts null as additive', () => {
    expect(breaking((doc) => (doc.components.schemas.View.properties.amountCny.type = ['string', 'null']))).toEqual([
      'GET /v1/things 200 application/json.amountCny: type changed from string to string|null',
    ]);
    expect(breaking((doc) => (doc.components.schemas.Body.properties.memo.type = ['string', 'null']))).toEqual([]);
  });

  it('reports a renamed operation as breaking: generated clients name their methods after it', () => {
    const named = (id: string) => document((doc) => (doc.paths['/v1/other'].get.operationId = id));
    expect(compareDocuments(named('listOther'), named('listOthers'))).toEqual([
      { breaking: true, where: 'GET /v1/other', what: 'operationId changed from listOther to listOthers' },
    ]);
  });

  it('compares nothing through a reference that names nothing', () => {
    const dangling = document((doc) => delete doc.components.schemas.Body);
    expect(compareDocuments(dangling, document()).filter((change) => change.breaking)).toEqual([]);
  });
});

describe('jsonDifferences', () => {
  it('names each differing pointer', () => {
    expect(jsonDifferences({ a: 1, b: { c: [1, 2] } }, { a: 2, b: { c: [1, 3], d: true } })).toEqual([
      '~ /a: 1 → 2',
      '~ /b/c/1: 2 → 3',
      '+ /b/d (only in the served document)',
    ]);
  });
});
