import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { createOperator, registerUser, TestUser } from './support/factories';
import { signPayload } from '../src/common/crypto/hmac-signature';
import { DEV_BANK_WEBHOOK_SECRET } from '../src/config';
import { Operation, operationsOf, Schema } from './support/fuzz/operations';
import {
  describeRequest,
  Fixtures,
  materialize,
  problemWith,
  RawResponse,
  sendRaw,
  SentRequest,
  TableSnapshots,
} from './support/fuzz/runner';
import { casesFor } from './support/fuzz/variants';
import { fixed, readyCounterparty, readyTraveler } from './support/market';
import { eventually } from './support/test-app';
import { useTestApp } from './support/use-test-app';

/**
 * Bad input, derived from the service's own OpenAPI document: for every operation under /v1 and the
 * sandbox's own actions, fast-check generates wrong types, missing and extra fields, bad amounts, huge and
 * deeply nested bodies, bad ids and cursors, wrong content types and oversized bodies, sent with the
 * principal the operation admits. Every answer must be below 500, every 4xx problem details, and a
 * refused request must change no table. FUZZ_SEED replays a run; FUZZ_RUNS sets its length.
 */
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const RUNS = Number(process.env.FUZZ_RUNS ?? 500);

/** Operations the document must hold, so a broken document or scope cannot pass as "nothing to fuzz". */
const MUST_COVER = [
  'POST /v1/requests',
  'POST /v1/auth/register',
  'PUT /sandbox/faults',
  'POST /sandbox/bank/incoming',
  'PUT /sandbox/bank/accounts/{account}',
  'GET /sandbox/rates/usd-cny',
];

/** Bodies the document leaves undescribed (a callback's payload is read raw), as the code reads them. */
const BODY_HINTS: Record<string, Schema> = {
  'POST /v1/provider-webhooks/bank': {
    type: 'object',
    required: ['id', 'type', 'data'],
    properties: {
      id: { type: 'string', example: 'EV-fuzz-1' },
      type: { type: 'string', enum: ['transfer.settled', 'return.settled', 'return.returned', 'return.failed'] },
      data: {
        type: 'object',
        required: ['id'],
        properties: {
          id: { type: 'string', example: 'BT00000000000000000000' },
          returnsTransferId: { type: 'string', example: 'BT00000000000000000001' },
        },
      },
    },
  },
};

const REQUEST_BODY = { amountCny: '2000.00', price: fixed('7.2400'), paymentMethod: 'paypal', minFillCny: '500' };
const OFFER_BODY = {
  minCny: '500',
  maxCny: '5000',
  totalCny: '20000',
  price: fixed('7.2500'),
  paymentMethods: ['paypal', 'bank_transfer'],
};

interface Tally {
  requests: number;
  statuses: Record<number, number>;
  pastGuards: number;
}

describe(`bad-input fuzzer over the OpenAPI document (seed ${SEED}, ${RUNS} runs)`, () => {
  const { test, api, db } = useTestApp(
    {
      RATE_FEED_WALK_BPS: '0',
      REFERENCE_RATE_REFRESH_EVERY_MS: '3600000',
      REFERENCE_RATE_STALE_AFTER_MS: '86400000',
      BANK_MOCK_SETTLEMENT_DELAY_MS: '50',
      BANK_MOCK_WEBHOOK_BACKOFF_MS: '100',
      PROVIDER_POLL_EVERY_MS: '200',
      OUTBOX_POLL_INTERVAL_MS: '50',
      DEADLINE_SWEEP_EVERY_MS: '3600000',
      LOG_LEVEL: 'error',
    },
    { reference: '7.2400' },
  );
  let snapshots: TableSnapshots;
  let operations: Operation[];
  const ids: Record<string, string> = {};
  const principals: Record<'traveler' | 'counterparty' | 'operator', TestUser> = {} as never;
  const admitted = new Map<string, TestUser[]>();
  const cursors = new Map<string, string>();
  const faultProviders: string[] = [];

  const fixtures: Fixtures = {
    resourceFor(operation, param) {
      const parts = operation.path.split('/');
      const segment = parts[parts.indexOf(`{${param}}`) - 1];
      const byCollection: Record<string, string> = {
        requests: ids.request,
        offers: ids.offer,
        trades: ids.trade,
        disputes: ids.dispute,
        users: ids.victim,
        'api-keys': ids.apiKey,
        faults: 'paypal',
        accounts: 'DE89370400440532013000',
      };
      return byCollection[segment] ?? randomUUID();
    },
    cursorFor: (operation) => cursors.get(operation.key),
    // The bank's callbacks are signed with a shared secret, so they can reach the event's own checks.
    signatureFor: (operation, body): Record<string, string> =>
      operation.key === 'POST /v1/provider-webhooks/bank' ? { 'x-signature': signPayload(DEV_BANK_WEBHOOK_SECRET, body) } : {},
    principalsFor: (operation) => admitted.get(operation.key) ?? [],
  };

  beforeAll(async () => {
    snapshots = new TableSnapshots(db);

    const doc = (await api('GET', '/docs-json')).body;
    operations = operationsOf(doc);
    for (const operation of operations) operation.body ??= BODY_HINTS[operation.key];
    faultProviders.push(...(doc.components.schemas.FaultSettingsDto?.properties?.provider?.enum ?? []));
    await createFixtures();
    await findPrincipals();
    await findCursors();
  }, 120000);

  /** Something of every kind a path can name, and lists long enough to have a second page. */
  async function createFixtures(): Promise<void> {
    const ok = <T extends { status: number; text: string }>(response: T, what: string): T => {
      if (response.status >= 300) throw new Error(`${what}: ${response.status} ${response.text}`);
      return response;
    };
    principals.traveler = await readyTraveler(api, 'fuzz-traveler');
    principals.counterparty = await readyCounterparty(api, 'fuzz-counterparty');
    principals.operator = await createOperator(test, api);
    ids.victim = (await registerUser(api, 'traveler', 'fuzz-victim')).id;
    const { traveler, counterparty } = principals;
    for (const name of ['fuzz one', 'fuzz two']) {
      ids.apiKey = ok(await api('POST', '/v1/me/api-keys', { token: traveler.token, body: { name } }), 'api key').body.id;
    }
    // The highest tier, so the fixtures and the fuzzer's own valid requests stay within the limits.
    for (const user of [traveler, counterparty]) {
      ok(await api('PUT', `/v1/admin/users/${user.id}/tier`, { token: principals.operator.token, body: { tier: 2 } }), 'tier');
    }
    for (let i = 0; i < 2; i++) ok(await api('POST', '/v1/requests', { token: traveler.token, body: REQUEST_BODY }), 'request');
    ok(await api('POST', '/v1/offers', { token: counterparty.token, body: OFFER_BODY }), 'offer');
    await freshMarket();
    if (!ids.request || !ids.offer || !ids.trade) throw new Error('no request, offer or trade to fuzz');

    // A disputed trade, funded by bank transfer through the sandbox bank.
    const bankRequest = { amountCny: '1000.00', price: fixed('7.2400'), paymentMethod: 'bank_transfer' };
    const bankRequestId = ok(await api('POST', '/v1/requests', { token: traveler.token, body: bankRequest }), 'bank request').body.id;
    const funded = ok(await api('POST', `/v1/requests/${bankRequestId}/accept`, { token: counterparty.token, body: {} }), 'accept').body.id;
    const funding = ok(await api('POST', `/v1/trades/${funded}/funding`, { token: traveler.token, body: {} }), 'funding').body;
    ok(await api('POST', '/sandbox/bank/incoming', { body: { reference: funding.reference, amountUsd: funding.amountUsd } }), 'incoming');
    await eventually(async () => (await api('GET', `/v1/trades/${funded}`, { token: traveler.token })).body.state === 'funded', 15000);
    const dispute = await api('POST', `/v1/trades/${funded}/disputes`, {
      token: traveler.token,
      body: { reason: 'rmb_not_received', statement: 'Nothing arrived.' },
    });
    ids.dispute = ok(dispute, 'dispute').body.id;
    // Leaves the funding and dispute work behind before anything is compared.
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }

  /**
   * A new open request, offer and trade awaiting funding, so an operation on them does not find only what the
   * cases before it left (a cancelled trade, a closed offer). Best effort: the fuzzer's own valid requests may
   * have changed the principals' payment details, and then the last ones stay.
   */
  async function freshMarket(): Promise<void> {
    const { traveler, counterparty } = principals;
    const request = await api('POST', '/v1/requests', { token: traveler.token, body: REQUEST_BODY });
    const offer = await api('POST', '/v1/offers', { token: counterparty.token, body: OFFER_BODY });
    if (offer.status === 201) ids.offer = offer.body.id;
    if (request.status !== 201) return;
    ids.request = request.body.id;
    const trade = await api('POST', `/v1/requests/${ids.request}/accept`, { token: counterparty.token, body: { amountCny: '500' } });
    if (trade.status === 201) ids.trade = trade.body.id;
  }

  /** Each secured operation gets the principals its guards let through (probed with random ids and `{}`). */
  async function findPrincipals(): Promise<void> {
    for (const operation of operations.filter((o) => o.secured)) {
      const passing: TestUser[] = [];
      for (const principal of Object.values(principals)) {
        const path = operation.path.replace(/\{[^}]+\}/g, () => randomUUID());
        const withBody = operation.method !== 'GET';
        const probe: SentRequest = {
          method: operation.method,
          url: path,
          headers: {
            authorization: `Bearer ${principal.token}`,
            ...(withBody ? { 'content-type': 'application/json', 'content-length': '2' } : {}),
          },
          body: withBody ? '{}' : undefined,
        };
        const response = await check(operation, probe);
        if (response && response.status !== 401 && response.status !== 403) passing.push(principal);
      }
      admitted.set(operation.key, passing.length > 0 ? passing : Object.values(principals));
    }
  }

  /** A real second-page cursor for every list that has one, to spoil a value of it. */
  async function findCursors(): Promise<void> {
    for (const operation of operations.filter((o) => o.method === 'GET' && o.queryParams.some((p) => p.name === 'cursor'))) {
      const [principal] = fixtures.principalsFor(operation);
      const path = operation.path.replace(/\{([^}]+)\}/g, (_m, name: string) => fixtures.resourceFor(operation, name));
      const page = await api('GET', `${path}?limit=1`, { token: principal?.token });
      if (typeof page.body?.nextCursor === 'string') cursors.set(operation.key, page.body.nextCursor);
    }
  }

  const violations: string[] = [];
  const tallies = new Map<string, Tally>();

  /** Sends one request and checks its answer and, unless it succeeded, that it wrote nothing. */
  async function check(operation: Operation, sent: SentRequest): Promise<RawResponse | undefined> {
    for (let attempt = 1; ; attempt++) {
      const before = await snapshots.take();
      let response: RawResponse;
      try {
        response = await sendRaw(test.baseUrl, sent);
      } catch (error) {
        violations.push(`${operation.key}: ${(error as Error).message} ← ${describeRequest(sent)}`);
        return undefined;
      }
      const problem = problemWith(response);
      if (problem) {
        violations.push(`${operation.key}: ${problem} ${response.text.slice(0, 200)} ← ${describeRequest(sent)}`);
      }
      if (response.status >= 200 && response.status < 300) {
        if (operation.key === 'PUT /sandbox/faults') await clearFaults();
        return response;
      }
      const after = await snapshots.take();
      // A refusal may record its key (a replay must answer the same); nothing else.
      const written = TableSnapshots.changed(before, after).filter((t) => !(t === 'idempotency_keys' && sent.headers['idempotency-key']));
      if (written.length === 0) return response;
      // Jobs (of earlier successes, or on timers) may have written meanwhile: only a request that writes
      // again each time it is sent once the tables are quiet is a refusal that wrote.
      if (attempt >= 3) {
        violations.push(`${operation.key}: a ${response.status} wrote to ${written.join(', ')} ← ${describeRequest(sent)}`);
        return response;
      }
      await untilQuiet();
    }
  }

  async function untilQuiet(): Promise<void> {
    let last = await snapshots.take();
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const now = await snapshots.take();
      if (TableSnapshots.changed(last, now).length === 0) return;
      last = now;
    }
  }

  async function clearFaults(): Promise<void> {
    for (const provider of faultProviders) await api('PUT', '/sandbox/faults', { body: { provider } });
  }

  it(
    'answers every generated bad request with a problem-details 4xx (or a success), never a 5xx, and a refusal changes nothing',
    async () => {
      console.log(`fuzz: seed ${SEED} (FUZZ_SEED=${SEED} replays it), ${RUNS} runs over ${operations.length} operations`);
      for (const key of MUST_COVER) expect(operations.map((o) => o.key)).toContain(key);
      const perOperation = Math.max(3, Math.ceil(RUNS / operations.length));
      const started = Date.now();
      for (const [index, operation] of operations.entries()) {
        const tally: Tally = { requests: 0, statuses: {}, pastGuards: 0 };
        tallies.set(operation.key, tally);
        if (/\/(requests|offers|trades)\/\{/.test(operation.path)) await freshMarket();
        const cases = fc.sample(casesFor(operation), { seed: SEED + index, numRuns: perOperation });
        for (const [n, fuzzCase] of cases.entries()) {
          const response = await check(operation, materialize(operation, fuzzCase, fixtures, n));
          tally.requests += 1;
          if (!response) continue;
          tally.statuses[response.status] = (tally.statuses[response.status] ?? 0) + 1;
          if (fuzzCase.auth === 'right' && response.status !== 401 && response.status !== 403) tally.pastGuards += 1;
        }
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      printSummary(seconds);

      const unreached = operations.filter((o) => (tallies.get(o.key)?.requests ?? 0) === 0).map((o) => o.key);
      expect(unreached).toEqual([]);
      // A secured operation whose every request was stopped at the door tested only the guards.
      const stoppedAtTheDoor = operations.filter((o) => o.secured && tallies.get(o.key)!.pastGuards === 0).map((o) => o.key);
      expect(stoppedAtTheDoor).toEqual([]);
      if (violations.length > 0) console.log(`what the service logged of its 5xx:\n${unhandledErrors().join('\n')}`);
      expect(violations.slice(0, 40)).toEqual([]);
    },
    300000 + RUNS * 200,
  );

  /** The service's own account of each unexpected error: type, message and where it was thrown. */
  function unhandledErrors(): string[] {
    return test
      .readLog()
      .split('\n')
      .filter((line) => line.includes('"Unhandled error"'))
      .map((line) => {
        const { error, route } = JSON.parse(line) as {
          error: { type: string; message?: string; code?: string; stack?: string };
          route?: string;
        };
        const where = (error.stack ?? '').split('\n').find((frame) => frame.includes('/src/') && !frame.includes('/src/driver/'));
        return `  ${route}: ${error.type} ${error.code ?? ''} ${error.message ?? ''} ${where?.trim() ?? ''}`;
      })
      .filter((line, i, all) => all.indexOf(line) === i)
      .slice(0, 20);
  }

  function printSummary(seconds: string): void {
    const lines = [...tallies.entries()].map(([key, t]) => {
      const statuses = Object.entries(t.statuses)
        .map(([status, n]) => `${status}×${n}`)
        .join(' ');
      return `  ${key.padEnd(52)} ${String(t.requests).padStart(5)}  ${statuses}`;
    });
    const total = [...tallies.values()].reduce((sum, t) => sum + t.requests, 0);
    const byStatus: Record<string, number> = {};
    for (const t of tallies.values()) for (const [s, n] of Object.entries(t.statuses)) byStatus[s] = (byStatus[s] ?? 0) + n;
    console.log(
      [
        `fuzz summary: seed ${SEED}, ${total} requests over ${tallies.size} operations in ${seconds} s, ${violations.length} violations`,
        `  statuses: ${Object.entries(byStatus)
          .map(([s, n]) => `${s}×${n}`)
          .join(' ')}`,
        ...lines,
      ].join('\n'),
    );
  }
});
