import { JwtService } from '@nestjs/jwt';
import { createHmac } from 'node:crypto';
import { Actor, ACTORS, ActorName, Actors, buildActors, World } from './support/authorization-fixtures';
import { TestApp } from './support/test-app';
import { distantDeadlines, quietRates } from './support/settings';
import { useTestApp } from './support/use-test-app';

/**
 * Who may call what: every route the service serves, asked by every kind of caller over HTTP, with the status
 * and problem `code` API.md gives for that caller. A route the table does not list fails the first test.
 *
 * Columns (the order they are asked in):
 *   anon     no credentials (for /v1 rows, a forged and an expired Bearer token too must get the same
 *            answer; for GET rows, HEAD must get the same status)
 *   trav     the traveler who owns the main world's request, trades, disputes, API key
 *   travKey  the same traveler, by API key
 *   trav2    another traveler: owns none of it
 *   cp       the counterparty who owns the main world's offers and is the other party of its trades
 *   cp2      another counterparty
 *   oper     an operator
 *   sTrav    a traveler suspended by an operator, on a world of its own (its request, its trades with sCp)
 *   sCp      a counterparty suspended by an operator, on that same world (its offers, its trades with sTrav)
 *   sNon     sTrav acting on the main world: a suspended non-owner
 * Where two owners' credentials can both do a thing once (cancel, dispute), the first column does it and the
 * later one finds the state it left (STATE): allowed, and refused only by the state machine.
 */
const U = '401 unauthenticated';
const F = '403 forbidden';
const S = '403 account_suspended';
const N = '404 not_found';
const STATE = '409 invalid_state_transition';
const SIG = '401 invalid_signature';
/** Routes a library serves (the docs' assets, bull-board): the guard let the caller through (not 401/403). */
const G = 'passes';
/** A payment handle: changed, or locked by the owner's live trades (API.md's `wallet_locked`), never refused for who asks. */
const W = 'changed or wallet_locked';
const LENIENT: Record<string, (status: number, code: unknown) => boolean> = {
  [G]: (status) => status !== 401 && status !== 403 && status < 500,
  [W]: (status, code) => status === 200 || (status === 409 && code === 'wallet_locked'),
};
type Cell = number | string;
type Body = unknown | ((actor: Actor) => unknown);

interface Row {
  /** `METHOD /path`, as the router knows it; `:id` is filled from the actor's world. */
  route: string;
  id?: keyof World;
  cells: Cell[];
  body?: Body;
}
/** Every route under a prefix that a library mounts and one hook guards: one row for all of them. */
interface PrefixRow {
  under: string;
  cells: Cell[];
}

const all = (cell: Cell): Cell[] => ACTORS.map(() => cell);
const users = (cell: Cell): Cell[] => [U, ...ACTORS.slice(1).map(() => cell)];
//                           anon trav travKey trav2 cp cp2 oper sTrav sCp sNon
const operatorOnly = (cell: Cell): Cell[] => [U, F, F, F, F, F, cell, F, F, F];
const row = (route: string, id: keyof World | undefined, cells: Cell[], body?: Body): Row => ({ route, id, cells, body });

let seq = 0;
const unique = (label: string) => `${label}${Date.now().toString(36)}${(seq += 1)}`;
const credentials = (actor: Actor) => ({ email: actor.email, password: actor.password });

const table: Row[] = [
  // Anyone: no credentials needed, and credentials change nothing.
  row('POST /v1/auth/register', undefined, all(201), () => ({
    email: `${unique('reg')}@example.com`,
    password: 'a long password',
    displayName: 'Probe',
    role: 'traveler',
  })),
  // Each signs in with their own password (anon with someone else's); a suspended user still signs in.
  row('POST /v1/auth/login', undefined, all(200), credentials),
  // The console's session is for operators (anon's credentials are wrong ones).
  row('POST /v1/auth/session', undefined, [U, F, F, F, F, F, 204, F, F, F], (actor: Actor) =>
    actor.name === 'anon' ? { email: 'nobody@example.com', password: 'wrong password' } : credentials(actor),
  ),
  row('DELETE /v1/auth/session', undefined, all(204)),
  row('GET /v1/rates/usd-cny', undefined, all(200)),
  // Provider callbacks authenticate by the provider's signature, never by a user's credentials.
  row('POST /v1/provider-webhooks/paypal', undefined, all(SIG), {}),
  row('POST /v1/provider-webhooks/bank', undefined, all(SIG), {}),
  row('POST /v1/provider-webhooks/wechat', undefined, all(SIG), {}),
  row('GET /health/live', undefined, all(200)),
  row('GET /health/ready', undefined, all(200)),
  row('GET /metrics', undefined, all(200)),
  row('GET /docs-json', undefined, all(200)),
  row('GET /docs-yaml', undefined, all(200)),

  // Accounts.
  //                                                 anon trav travKey trav2 cp cp2 oper sTrav sCp sNon
  row('GET /v1/me', undefined, users(200)),
  // A suspended user changes no payment handle (a payout an operator retries would go to the new one).
  row('PUT /v1/me/wechat-wallet', undefined, [U, W, W, W, W, W, F, S, S, S], () => ({ wechatId: unique('wx_') })),
  row('PUT /v1/me/payout-account', undefined, [U, F, F, F, W, W, F, F, S, F], () => ({
    method: 'paypal',
    paypalEmail: `${unique('payout')}@example.com`,
  })),
  // Keys are made and revoked with a password sign-in's token, never with a key; not by the suspended.
  row('POST /v1/me/api-keys', undefined, [U, 201, F, 201, 201, 201, 201, S, S, S], { name: 'probe' }),
  row('GET /v1/me/api-keys', undefined, users(200)),
  row('DELETE /v1/me/api-keys/:id', 'apiKey', [U, 200, F, N, N, N, N, 200, N, N]),
  row('GET /v1/me/export', undefined, users(200)),
  // Deleting one's account takes the password again: a wrong one is refused after the role and suspension checks.
  row('DELETE /v1/me', undefined, [U, U, U, U, U, U, F, S, S, S], { password: 'not the password' }),
  row('GET /v1/users/:id', 'user', users(200)),

  // Webhooks: any user, their own endpoints only (404 for anyone else's); a suspended user keeps receiving.
  //                                                 anon trav travKey trav2 cp cp2 oper sTrav sCp sNon
  row('POST /v1/webhooks/endpoints', undefined, users(201), { url: 'http://127.0.0.1:9/probe' }),
  row('GET /v1/webhooks/endpoints', undefined, users(200)),
  row('DELETE /v1/webhooks/endpoints/:id', 'webhookEndpointToDelete', [U, 200, N, N, N, N, N, 200, N, N]),
  row('POST /v1/webhooks/endpoints/:id/enable', 'webhookEndpoint', [U, 200, 200, N, N, N, N, 200, N, N]),
  row('POST /v1/webhooks/endpoints/:id/ping', 'webhookEndpoint', [U, 202, 202, N, N, N, N, 202, N, N]),
  row('GET /v1/webhooks/deliveries', undefined, users(200)),

  // Market. A traveler sees only its own requests; a counterparty only open ones of makers not suspended.
  //                                                 anon trav travKey trav2 cp cp2 oper sTrav sCp sNon
  row('POST /v1/requests', undefined, [U, 201, 201, 201, F, F, F, S, F, S], {
    amountCny: '1000.00',
    price: { type: 'fixed', rate: '7.2400' },
    paymentMethod: 'paypal',
  }),
  row('GET /v1/requests', undefined, users(200)),
  // API.md: any user reads any request (another traveler's, a suspended maker's), as any offer.
  row('GET /v1/requests/:id', 'request', users(200)),
  row('POST /v1/requests/:id/cancel', 'requestToCancel', [U, 200, STATE, N, F, F, F, 200, F, N]),
  row('POST /v1/requests/:id/accept', 'request', [U, F, F, F, 201, 201, F, F, S, F], { amountCny: '500.00' }),
  row('POST /v1/offers', undefined, [U, F, F, F, 201, 201, F, F, S, F], {
    minCny: '500',
    maxCny: '5000',
    totalCny: '10000',
    price: { type: 'fixed', rate: '7.2400' },
    paymentMethods: ['paypal'],
  }),
  row('GET /v1/offers', undefined, users(200)),
  row('GET /v1/offers/:id', 'offer', users(200)),
  row('POST /v1/offers/:id/take', 'offer', [U, 201, 201, 201, F, F, F, S, F, S], { amountCny: '500.00', paymentMethod: 'paypal' }),
  // Offers are public, so another counterparty is told it may not (403), not that there is none.
  row('POST /v1/offers/:id/pause', 'offerToPause', [U, F, F, F, 200, F, F, F, 200, F]),
  row('POST /v1/offers/:id/resume', 'offerToResume', [U, F, F, F, 200, F, F, F, 200, F]),
  row('POST /v1/offers/:id/close', 'offerToClose', [U, F, F, F, 200, F, F, F, 200, F]),

  // Trades: a non-participant gets 404, never 403; the wrong role of a participant gets 403 (role before 404).
  // Suspended parties still act on their live trades.
  //                                                 anon trav travKey trav2 cp cp2 oper sTrav sCp sNon
  row('GET /v1/trades', undefined, [U, 200, 200, 200, 200, 200, F, 200, 200, 200]),
  row('GET /v1/trades/:id', 'trade', [U, 200, 200, N, 200, N, 200, 200, 200, N]),
  row('GET /v1/trades/:id/events', 'trade', [U, 200, 200, N, 200, N, 200, 200, 200, N]),
  // Event streams: every user may follow its own events (operators receive none); a trade's, its parties and operators.
  row('GET /v1/stream', undefined, users(200)),
  row('GET /v1/trades/:id/stream', 'trade', [U, 200, 200, N, 200, N, 200, 200, 200, N]),
  // Asked again while its order is live: 200, the same order.
  row('POST /v1/trades/:id/funding', 'tradeToFund', [U, 201, 200, N, F, F, F, 201, F, N], {}),
  row('POST /v1/trades/:id/payout', 'tradeForPayout', [U, F, F, F, 200, N, F, F, 200, F], () => ({ wechatTransferId: unique('WX-') })),
  row('POST /v1/trades/:id/confirm-receipt', 'tradeToConfirm', [U, 200, STATE, N, F, F, F, 200, F, N]),
  row('POST /v1/trades/:id/cancel', 'tradeToCancel', [U, 200, STATE, N, STATE, N, F, 200, STATE, N]),
  row('POST /v1/trades/:id/disputes', 'tradeToDispute', [U, 201, STATE, N, STATE, N, F, 201, STATE, N], {
    reason: 'other',
    statement: 'probe',
  }),
  // Ratings: the disputed trade has not ended, so its parties are refused by its state; a suspended party may
  // only finish live trades, so rates nothing.
  row('POST /v1/trades/:id/rating', 'trade', [U, STATE, STATE, N, STATE, N, F, S, S, S], { score: 5 }),
  row('GET /v1/users/:id/ratings', 'user', users(200)),

  // Chat: the parties (suspended ones too, on a live trade) post; operators read the disputed trade's, never post.
  row('POST /v1/trades/:id/messages', 'trade', [U, 201, 201, N, 201, N, F, 201, 201, N], { text: 'probe' }),
  row('GET /v1/trades/:id/messages', 'trade', [U, 200, 200, N, 200, N, 200, 200, 200, N]),

  // Disputes: the parties and operators read; the parties (suspended ones too) add statements.
  row('GET /v1/disputes/:id', 'dispute', [U, 200, 200, N, 200, N, 200, 200, 200, N]),
  row('POST /v1/disputes/:id/statements', 'dispute', [U, 201, 201, N, 201, N, F, 201, 201, N], { text: 'probe' }),

  // Operators only: every other role is `forbidden`, before suspension and before any lookup.
  row('GET /v1/admin/users/:id', 'user', operatorOnly(200)),
  row('POST /v1/admin/users/:id/suspend', 'target', operatorOnly(200)),
  row('POST /v1/admin/users/:id/unsuspend', 'target', operatorOnly(200)),
  row('PUT /v1/admin/users/:id/tier', 'target', operatorOnly(200), { tier: 1 }),
  row('GET /v1/admin/audit', undefined, operatorOnly(200)),
  row('GET /v1/admin/ledger/check', undefined, operatorOnly(200)),
  row('GET /v1/admin/trades', undefined, operatorOnly(200)),
  row('GET /v1/admin/reconciliation', undefined, operatorOnly(200)),
  // A run is queued (audited), and answered at once.
  row('POST /v1/admin/reconciliation/run', undefined, operatorOnly(202)),
  // Nothing of the disputed trade's settlement is failing: allowed, refused by its state.
  row('POST /v1/admin/trades/:id/retry-settlement', 'trade', operatorOnly(STATE)),
  row('POST /v1/admin/trades/:id/reveal', 'trade', operatorOnly(200), { field: 'counterpartyPaypalEmail', reason: 'probe' }),
  row('GET /v1/admin/disputes', undefined, operatorOnly(200)),
  row('POST /v1/admin/disputes/:id/assign', 'dispute', operatorOnly(200), {}),
  row('POST /v1/admin/disputes/:id/resolve', 'disputeToResolve', operatorOnly(200), { outcome: 'refund', note: 'probe' }),
  // The operator console signs in by its session cookie only: a Bearer token or an API key is no credential there,
  // so every caller is sent (303, followed here) to the sign-in page, whose form needs its CSRF token (403 without).
  row('GET /admin', undefined, all(200)),
  row('GET /admin/sign-in', undefined, all(200)),
  row('POST /admin/sign-in', undefined, all(403), credentials),
  row('POST /admin/sign-out', undefined, all(200), {}),
  row('GET /admin/assets/:name', undefined, all(404)),
  row('GET /admin/disputes', undefined, all(200)),
  row('GET /admin/disputes/:id', 'dispute', all(200)),
  row('POST /admin/disputes/:id/assign', 'dispute', all(200), {}),
  row('POST /admin/disputes/:id/resolve', 'disputeToResolve', all(200), { outcome: 'refund', note: 'probe', confirmed: 'yes' }),
  row('POST /admin/disputes/:id/reveal', 'dispute', all(200), { field: 'counterpartyPaypalEmail', reason: 'probe' }),
  row('GET /admin/trades', undefined, all(200)),
  row('GET /admin/trades/:id', 'trade', all(200)),
  row('POST /admin/trades/:id/retry-settlement', 'trade', all(200), { confirm: 'yes' }),
  row('GET /admin/users', undefined, all(200)),
  row('GET /admin/users/:id', 'user', all(200)),
  row('POST /admin/users/:id/suspend', 'target', all(200), { reason: 'probe', confirm: 'yes' }),
  row('POST /admin/users/:id/unsuspend', 'target', all(200), { reason: 'probe', confirm: 'yes' }),
  row('POST /admin/users/:id/tier', 'target', all(200), { tier: '1', confirm: 'yes' }),
  row('GET /admin/ledger', undefined, all(200)),
  row('POST /admin/ledger/reconciliation', undefined, all(200), {}),
];

const prefixRows: PrefixRow[] = [
  { under: '/docs', cells: all(G) },
  // The pages problems' `type` points to: public.
  { under: '/problems', cells: all(G) },
  // bull-board, behind the operators' hook (Bearer or console cookie; an API key is no credential there).
  // Last: the operator's column pauses every queue. Queue and job names are made up, so nothing else is touched.
  //                        anon trav travKey trav2 cp cp2 oper sTrav sCp sNon
  { under: '/admin/queues', cells: [U, F, U, F, F, F, G, F, F, F] },
];

/** Not in the matrix: the provider mocks take no platform credentials (API.md) and are off in production. */
const OUT_OF_SCOPE = ['/sandbox/'];

/**
 * `METHOD /path` of every route Fastify serves (HEAD, which it adds to each GET, aside), read from its radix
 * tree, where a route is its nodes' prefixes joined (the flattened print drops prefixes that hold no route).
 */
function servedRoutes(test: TestApp): string[] {
  const tree = test.app.getHttpAdapter().getInstance().printRoutes();
  const stack: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split('\n')) {
    if (line.trim() === '') continue;
    const parsed = /^((?:[│ ] {3})*)[├└]── (\S+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!parsed) throw new Error(`unreadable route tree line: ${line}`);
    const depth = parsed[1].length / 4;
    stack.length = depth;
    stack.push(parsed[2]);
    for (const method of (parsed[3] ?? '').split(', ').filter((m) => m && m !== 'HEAD')) routes.push(`${method} ${stack.join('')}`);
  }
  return routes;
}

const under = (route: string, prefix: string) => {
  const path = route.split(' ')[1];
  return path === prefix || path.startsWith(`${prefix}/`);
};

/** A token that looks like ours but was signed with another key. */
function forgedToken(): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: '00000000-0000-4000-8000-000000000000', role: 'operator' })}`;
  return `${unsigned}.${createHmac('sha256', 'not the service secret, but long enough').update(unsigned).digest('base64url')}`;
}

describe('Authorization matrix: every route × every kind of caller (HTTP)', () => {
  const { test, api } = useTestApp(
    {
      // The fixtures' webhook endpoints point at a loopback port.
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      ...quietRates,
      ...distantDeadlines,
      PROVIDER_POLL_EVERY_MS: '200',
      PAYPAL_MOCK_PAYOUT_DELAY_MS: '100',
      OUTBOX_POLL_INTERVAL_MS: '50',
    },
    { reference: '7.2400' },
  );
  let actors: Actors;
  let expiredToken: string;

  beforeAll(async () => {
    actors = await buildActors(test, api);
    // The traveler's own token, signed with the service's key, but a minute past its expiry.
    expiredToken = await test.app.get(JwtService).signAsync({ sub: actors.trav.id, role: 'traveler' }, { expiresIn: -60 });
  }, 60000);

  /** What the caller got, in the table's terms: the status, with the problem's code for an error. */
  async function ask(method: string, path: string, actor: Actor, body: Body, expected: Cell, token = actor.token): Promise<Cell> {
    const response = await api(method, path, {
      token,
      apiKey: actor.apiKey,
      body: typeof body === 'function' ? (body as (a: Actor) => unknown)(actor) : body,
      // An event stream's body never ends: its status is the answer.
      headersOnly: path.endsWith('/stream'),
    });
    const code = response.status >= 400 ? response.body?.code : undefined;
    if (LENIENT[expected]?.(response.status, code)) return expected;
    return code === undefined ? response.status : `${response.status} ${code}`;
  }

  /** Asks every actor; returns what each got and what the row wants, side by side. */
  async function answers(method: string, pathOf: (world: World) => string, cells: Cell[], body?: Body) {
    const got: Record<string, Cell> = {};
    const wanted: Record<string, Cell> = {};
    for (const [i, name] of ACTORS.entries()) {
      const actor = actors[name as ActorName];
      wanted[name] = cells[i];
      got[name] = await ask(method, pathOf(actor.world), actor, body, cells[i]);
    }
    const path = pathOf(actors.anon.world);
    if (path.startsWith('/v1/')) {
      // API.md: a missing, invalid or expired token is 401 alike.
      wanted.forged = wanted.expired = cells[0];
      got.forged = await ask(method, path, actors.anon, body, cells[0], forgedToken());
      got.expired = await ask(method, path, actors.anon, body, cells[0], expiredToken);
    }
    if (method === 'GET') {
      // Fastify answers HEAD with the GET route: the same guards, no body (so only the status to compare).
      wanted.head = typeof cells[0] === 'string' && /^\d{3} /.test(cells[0]) ? Number(cells[0].slice(0, 3)) : cells[0];
      got.head = await ask('HEAD', path, actors.anon, undefined, cells[0]);
    }
    return { got, wanted };
  }

  it('has a row for every route the service serves, and no row for a route it does not', async () => {
    const every = servedRoutes(test);
    // The tree is read right: every operation of the OpenAPI document the service serves is in it.
    const document = (await api('GET', '/docs-json')).body as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    expect(documented.length).toBeGreaterThan(40);
    expect(documented.filter((route) => !every.includes(route))).toEqual([]);

    const served = every.filter((route) => !OUT_OF_SCOPE.some((prefix) => route.split(' ')[1].startsWith(prefix)));
    const listed = new Set(table.map((r) => r.route));
    const routesWithoutARow = served.filter((route) => !listed.has(route) && !prefixRows.some((p) => under(route, p.under)));
    expect(routesWithoutARow).toEqual([]);
    const rowsWithoutARoute = [...listed].filter((route) => !served.includes(route));
    expect(rowsWithoutARoute).toEqual([]);
    expect(listed.size).toBe(table.length);
  });

  // Lists answer 200 to many; what each caller sees in them is asked here: does the list hold the actor's
  // world's resource? (null: the caller is refused, which the route's row checks.) Before the rows, which
  // revoke the key and move the trades.
  const [Y, n, _] = [true, false, null];
  const lists: [string, keyof World, (boolean | null)[]][] = [
    //                                    anon trav travKey trav2 cp cp2 oper sTrav sCp sNon
    ['/v1/trades?limit=100', 'trade', [_, Y, Y, n, Y, n, _, Y, Y, n]],
    ['/v1/requests?limit=100', 'request', [_, Y, Y, n, Y, Y, Y, Y, n, n]],
    ['/v1/offers?limit=100', 'offer', [_, Y, Y, Y, Y, Y, Y, n, n, Y]],
    ['/v1/offers?mine=true&limit=100', 'offer', [_, n, n, n, Y, n, n, n, Y, n]],
    ['/v1/me/api-keys?limit=100', 'apiKey', [_, Y, Y, n, n, n, n, Y, n, n]],
    ['/v1/webhooks/endpoints?limit=100', 'webhookEndpoint', [_, Y, Y, n, n, n, n, Y, n, n]],
    ['/v1/admin/disputes?limit=100', 'dispute', [_, _, _, _, _, _, Y, _, _, _]],
  ];
  it('shows each caller in lists only what it may see', async () => {
    const got: Record<string, (boolean | null)[]> = {};
    const wanted: Record<string, (boolean | null)[]> = {};
    for (const [path, key, cells] of lists) {
      wanted[path] = cells;
      got[path] = [];
      for (const [i, name] of ACTORS.entries()) {
        const actor = actors[name];
        if (cells[i] === null) {
          got[path].push(null);
          continue;
        }
        const page = await api('GET', path, { token: actor.token, apiKey: actor.apiKey });
        expect([path, name, page.status]).toEqual([path, name, 200]);
        got[path].push(page.body.data.some((item: { id: string }) => item.id === actor.world[key]));
      }
    }
    expect(got).toEqual(wanted);
  });

  for (const r of table) {
    it(r.route, async () => {
      const [method, template] = r.route.split(' ');
      const { got, wanted } = await answers(method, (world) => template.replace(':id', r.id ? world[r.id] : ':id'), r.cells, r.body);
      expect(got).toEqual(wanted);
    });
  }

  for (const p of prefixRows) {
    it(`every route under ${p.under}`, async () => {
      const routes = servedRoutes(test).filter((route) => under(route, p.under));
      expect(routes.length).toBeGreaterThan(0);
      const got: Record<string, Record<string, Cell>> = {};
      const wanted: Record<string, Record<string, Cell>> = {};
      for (const route of routes) {
        const [method, template] = route.split(' ');
        const path = template.replace(/:[A-Za-z]+/g, 'nope').replace(/\*$/, 'nope');
        ({ got: got[route], wanted: wanted[route] } = await answers(method, () => path, p.cells, method === 'GET' ? undefined : {}));
      }
      expect(got).toEqual(wanted);
    });
  }
});
