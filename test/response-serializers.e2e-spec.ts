import { buildApiDocument } from '../src/bootstrap/openapi/document';
import { JsonSchema, undeclaredKeys } from '../src/bootstrap/openapi/response-schemas';
import { routesWithSerializers, SERIALIZED_ROUTES, serializedSchemas } from '../src/bootstrap/openapi/response-serializers';
import { client, Api } from './support/http';
import { fixed, floating, readyCounterparty } from './support/market';
import { settling } from './support/settings';
import { startTestApp, TestApp } from './support/test-app';
import { fundedTrade } from './support/trades';
import { useTestApp } from './support/use-test-app';

/**
 * The hot reads' compiled serializers write the same bodies as JSON.stringify: a second process of the same
 * deployment, with RESPONSE_SERIALIZERS=false, answers the same requests, and every key the presenters emit is
 * one the schema declares (a compiled serializer would drop any other without a word).
 */
describe('compiled response serializers', () => {
  const { test, api } = useTestApp(settling, { reference: '7.2400' });
  let plain: TestApp;
  let plainApi: Api;
  const reads: { route: string; path: string; token: string }[] = [];

  beforeAll(async () => {
    plain = await startTestApp({ ...settling, RESPONSE_SERIALIZERS: 'false' }, test, { workers: false });
    plainApi = client(plain.baseUrl);
    const { traveler, counterparty, trade } = await fundedTrade(api);
    const maker = await readyCounterparty(api, 'maker');
    for (const price of [fixed('7.3100'), floating(-150)]) {
      const offer = await api('POST', '/v1/offers', {
        token: maker.token,
        body: { minCny: '500', maxCny: '5000', totalCny: '20000', price, paymentMethods: ['paypal', 'bank_transfer'] },
      });
      expect(offer.status).toBe(201);
    }
    const request = await api('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny: '300.00', price: floating(-150), paymentMethod: 'bank_transfer' },
    });
    expect(request.status).toBe(201);
    reads.push(
      { route: 'GET /v1/offers', path: '/v1/offers', token: traveler.token },
      { route: 'GET /v1/offers', path: '/v1/offers?limit=1', token: traveler.token },
      { route: 'GET /v1/requests', path: '/v1/requests', token: counterparty.token },
      // The traveler and the counterparty are shown different fields (the traveler's WeChat id to the counterparty).
      { route: 'GET /v1/trades/:id', path: `/v1/trades/${trade.id}`, token: traveler.token },
      { route: 'GET /v1/trades/:id', path: `/v1/trades/${trade.id}`, token: counterparty.token },
      { route: 'GET /v1/users/:id', path: `/v1/users/${maker.id}`, token: traveler.token },
    );
  });
  afterAll(() => plain?.close());

  it('are attached to every hot read, and only when enabled', () => {
    expect([...routesWithSerializers(test.app)].sort()).toEqual(
      SERIALIZED_ROUTES.map(({ method, path }) => `${method} ${path.replace('{id}', ':id')}`).sort(),
    );
    expect([...routesWithSerializers(plain.app)]).toEqual([]);
  });

  it('write the bodies JSON.stringify writes, for every route and caller', async () => {
    expect(new Set(reads.map((read) => read.route))).toEqual(routesWithSerializers(test.app));
    for (const { path, token } of reads) {
      // Twice each: the listings' first page is answered from the process's cache the second time.
      for (let round = 0; round < 2; round += 1) {
        const compiled = await api('GET', path, { token });
        const stringified = await plainApi('GET', path, { token });
        expect({ path, status: compiled.status }).toEqual({ path, status: 200 });
        expect(stringified.status).toBe(200);
        expect(JSON.parse(compiled.text)).toEqual(JSON.parse(stringified.text));
        expect(compiled.headers.get('content-type')).toBe(stringified.headers.get('content-type'));
      }
    }
  });

  it('cover every key the presenters emit', async () => {
    const schemas = serializedSchemas(buildApiDocument(test.app) as unknown as JsonSchema);
    for (const { route, path, token } of reads) {
      const { body } = await plainApi('GET', path, { token });
      expect({ path, undeclared: undeclaredKeys(schemas.get(route)!, body) }).toEqual({ path, undeclared: [] });
    }
  });

  it('leave problem details as they were', async () => {
    const { token } = reads[0];
    const missing = '/v1/trades/00000000-0000-4000-8000-000000000000';
    const compiled = await api('GET', missing, { token });
    const stringified = await plainApi('GET', missing, { token });
    expect(compiled.status).toBe(404);
    expect(compiled.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const { instance: _a, requestId: _b, ...compiledBody } = compiled.body;
    const { instance: _c, requestId: _d, ...stringifiedBody } = stringified.body;
    expect(compiledBody).toEqual(stringifiedBody);
    expect(compiledBody.code).toBeDefined();
  });
});
