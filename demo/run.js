#!/usr/bin/env node
// @ts-check
/*
 * A dozen trades through every path, printed as they happen: PayPal and bank funding, one request filled by
 * three counterparties, the RMB sent at the WeChat mock and verified, a receipt confirmed by the traveler, an
 * expiry, a refund at the payout deadline, a bank overpayment, a cancellation, and two disputes an operator
 * resolves. Then a summary: trades by final state, USD and CNY moved, fees, and the ledger check.
 *
 * Every call goes through the typed client (clients/typescript), so the whole trade type-checks against openapi.json.
 *
 * Usage: npm run demo                        (builds if needed, starts its own service with short timers on a fresh
 *                                             database, on PORT or a free loopback port)
 *        npm run demo -- --url http://localhost:3000   (a running service: the expiry and the refund need short
 *                                                       windows, so they are left out)
 */
const { execFile, execFileSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { createServer } = require('node:net');
const { promisify } = require('node:util');
const { createYuanbridgeClient, ok } = require('../clients/typescript');
const { dropDatabase, freshDatabaseUrl, startService, stopService } = require('../bench/harness');

const urlAt = process.argv.indexOf('--url');
const externalUrl = urlAt === -1 ? undefined : process.argv[urlAt + 1];
// Set in main when the demo starts its own service.
let baseUrl = externalUrl ?? '';
/** Calls made by no one in particular: signing up and in, and the sandbox's stand-ins for the payers and WeChat. */
let api = createYuanbridgeClient({ baseUrl });
/** @param {string} token */
const as = (token) => createYuanbridgeClient({ baseUrl, token });
/** @typedef {{ name: string, client: import('../clients/typescript').YuanbridgeClient, id: string, wechatId: string }} Person */
/** @typedef {import('../clients/typescript').Schema<'TradeView'>} Trade */
const started = Date.now();
const clock = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
const say = (line) => process.stdout.write(`${line}\n`);
const tag = () => randomBytes(3).toString('hex');

async function until(check, what, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const result = await check();
    if (result) return result;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A user with a WeChat wallet on file and at the WeChat mock; counterparties also get a PayPal payout email.
 * @param {'traveler' | 'counterparty'} role
 * @param {string} name
 * @param {string} balanceCny
 */
async function person(role, name, balanceCny) {
  const email = `${name.toLowerCase()}-${tag()}@demo.example`;
  const password = 'demo password 1';
  await ok(api.POST('/v1/auth/register', { body: { email, password, displayName: name, role } }));
  const client = as((await ok(api.POST('/v1/auth/login', { body: { email, password } }))).accessToken);
  const me = await ok(client.GET('/v1/me'));
  const wechatId = `wx_${name.toLowerCase()}_${tag()}`;
  await ok(client.PUT('/v1/me/wechat-wallet', { body: { wechatId } }));
  await ok(api.POST('/sandbox/wechat/wallets', { body: { wechatId, balanceCny } }));
  if (role === 'counterparty') await ok(client.PUT('/v1/me/payout-account', { body: { method: 'paypal', paypalEmail: `${name.toLowerCase()}-${tag()}@paypal.demo` } }));
  return { name, client, id: me.id, wechatId };
}

/** Prints each watched trade's new timeline events as they appear. */
const watched = new Map();
/**
 * @param {Trade} trade
 * @param {string} label
 */
function watch(trade, label) {
  watched.set(trade.id, { label, seen: 0, state: trade.state });
}
async function printNewEvents() {
  for (const [id, entry] of watched) {
    const events = (await ok(operator.client.GET('/v1/trades/{id}/events', { params: { path: { id }, query: { limit: 100 } } }))).data;
    for (const event of events.slice(entry.seen)) {
      const what =
        event.type === 'state_changed'
          ? `${event.fromState ?? '—'} → ${event.toState}`
          : event.type === 'deadline_extended'
            ? `deadline ${event.detail.deadline} extended`
            : event.type.replace('_', ' ');
      const why = event.detail?.reason ? ` (${event.detail.reason})` : event.detail?.action ? ` (${event.detail.action})` : '';
      say(`${clock()}  ${entry.label.padEnd(40)} ${event.actor.kind.padEnd(12)} ${what}${why}`);
      if (event.toState) entry.state = event.toState;
    }
    entry.seen = events.length;
  }
}
const stateOf = async (id) => (await ok(operator.client.GET('/v1/trades/{id}', { params: { path: { id } } }))).state;
async function reach(id, states, timeoutMs = 60000) {
  return until(async () => {
    await printNewEvents();
    const now = await stateOf(id);
    return states.includes(now) && now;
  }, `${watched.get(id)?.label} to reach ${states.join(' or ')}`, timeoutMs);
}

/** @type {{ client: import('../clients/typescript').YuanbridgeClient }} */
let operator;

/**
 * @param {Person} traveler
 * @param {string} amountCny
 * @param {'paypal' | 'bank_transfer'} paymentMethod
 * @param {string} [minFillCny]
 */
async function request(traveler, amountCny, paymentMethod, minFillCny) {
  return ok(traveler.client.POST('/v1/requests', { body: { amountCny, price: { type: 'floating', premiumBps: 0 }, paymentMethod, ...(minFillCny ? { minFillCny } : {}) } }));
}
/**
 * @param {Person} counterparty
 * @param {string} requestId
 * @param {string} [amountCny]
 */
async function accept(counterparty, requestId, amountCny) {
  return ok(counterparty.client.POST('/v1/requests/{id}/accept', { params: { path: { id: requestId } }, body: amountCny ? { amountCny } : {} }));
}
/**
 * @param {Person} traveler
 * @param {Trade} trade
 */
async function fundPaypal(traveler, trade) {
  const funding = await ok(traveler.client.POST('/v1/trades/{id}/funding', { params: { path: { id: trade.id } }, body: {} }));
  const { orderId } = funding;
  if (!orderId) throw new Error(`trade ${trade.id} has no PayPal order (${funding.provider})`);
  await ok(api.POST('/sandbox/paypal/orders/{orderId}/approve', { params: { path: { orderId } }, body: { payerEmail: `${traveler.name.toLowerCase()}@paypal.demo` } }));
}
/**
 * @param {Person} traveler
 * @param {Trade} trade
 * @param {string} [amountUsd]
 */
async function fundBank(traveler, trade, amountUsd) {
  const funding = await ok(traveler.client.POST('/v1/trades/{id}/funding', { params: { path: { id: trade.id } }, body: {} }));
  const { reference } = funding;
  if (!reference || !funding.amountUsd) throw new Error(`trade ${trade.id} has no bank instructions (${funding.provider})`);
  await ok(api.POST('/sandbox/bank/incoming', { body: { reference, amountUsd: amountUsd ?? funding.amountUsd } }));
}
const cnyMoved = [];
/**
 * @param {Person} counterparty
 * @param {Person} traveler
 * @param {Trade} trade
 */
async function payRmb(counterparty, traveler, trade, amountCny = trade.amountCny, report = true) {
  const { transferId } = await ok(api.POST('/sandbox/wechat/transfers', { body: { fromWechatId: counterparty.wechatId, toWechatId: traveler.wechatId, amountCny } }));
  cnyMoved.push(amountCny);
  if (report) await ok(counterparty.client.POST('/v1/trades/{id}/payout', { params: { path: { id: trade.id } }, body: { wechatTransferId: transferId } }));
}

/** PORT when set, else a loopback port nothing listens on. */
async function demoPort() {
  if (process.env.PORT) return Number(process.env.PORT);
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function main() {
  let child;
  let databaseUrl;
  let operatorMade;
  const opsEmail = `ops-${tag()}@demo.example`;
  if (!externalUrl) {
    say(`${clock()}  building the service (skipped when nothing changed)…`);
    execFileSync(process.execPath, ['scripts/build-if-changed.js'], { stdio: 'inherit' });
    const port = await demoPort();
    baseUrl = `http://127.0.0.1:${port}`;
    api = createYuanbridgeClient({ baseUrl });
    say(`${clock()}  starting it at ${baseUrl} on a fresh database, with short timers for the demo…`);
    databaseUrl = freshDatabaseUrl('yb_demo');
    const env = {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl.toString(),
      QUEUE_PREFIX: `{${databaseUrl.pathname.slice(1)}}`,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_ENABLED: 'false',
      // Cheap password hashes: the demo signs up seven people.
      ARGON2_MEMORY_KIB: '4096',
      ARGON2_TIME_COST: '1',
      FUNDING_WINDOW_BANK_MS: '8000',
      PAYOUT_WINDOW_MS: '10000',
      PROVIDER_POLL_EVERY_MS: '500',
      PAYPAL_MOCK_PAYOUT_DELAY_MS: '300',
      BANK_MOCK_SETTLEMENT_DELAY_MS: '500',
      OUTBOX_POLL_INTERVAL_MS: '100',
    };
    // The CLI makes the operator while the service starts: both migrate the new database, one after the other.
    operatorMade = promisify(execFile)(process.execPath, ['dist/src/cli.js', 'create-operator', opsEmail, 'operator password 1'], { env });
    ({ child } = await startService(env, baseUrl));
    say(`${clock()}  the service is ready`);
  } else {
    // Operators are made by the CLI, against the database the running service uses (DATABASE_URL).
    execFileSync('npm', ['run', 'cli', '--silent', '--', 'create-operator', opsEmail, 'operator password 1'], { stdio: 'ignore' });
  }
  try {
    say(`${clock()}  the reference rate: ${(await ok(api.GET('/v1/rates/usd-cny'))).rate} CNY per USD`);

    const [tom, tina, tara] = await Promise.all([person('traveler', 'Tom', '0.00'), person('traveler', 'Tina', '0.00'), person('traveler', 'Tara', '0.00')]);
    const [cora, carl, cleo] = await Promise.all([
      person('counterparty', 'Cora', '50000.00'),
      person('counterparty', 'Carl', '50000.00'),
      person('counterparty', 'Cleo', '50000.00'),
    ]);
    await operatorMade;
    operator = { client: as((await ok(api.POST('/v1/auth/login', { body: { email: opsEmail, password: 'operator password 1' } }))).accessToken) };
    say(`${clock()}  three travelers and three counterparties, each with a WeChat wallet; one operator`);
    say(`${clock()}  twelve trades are opened and funded (PayPal approvals and bank transfers at the mocks)…`);

    // The timer-dependent ones first, so their windows run out while the rest go on (only with our own short timers).
    if (!externalUrl) {
      const expiring = await accept(carl, (await request(tina, '300.00', 'bank_transfer')).id);
      watch(expiring, 'expiry: bank, never funded');
      const refunding = await accept(cleo, (await request(tara, '400.00', 'paypal')).id);
      watch(refunding, 'refund: RMB never sent');
      await fundPaypal(tara, refunding);
    }

    // One request, three counterparties: a partial fill each.
    const big = await request(tom, '3000.00', 'paypal', '500.00');
    const fills = [];
    for (const counterparty of [cora, carl, cleo]) {
      const trade = await accept(counterparty, big.id, '1000.00');
      watch(trade, `partial fill by ${counterparty.name}: PayPal, verified`);
      fills.push({ trade, counterparty });
    }
    for (const { trade } of fills) await fundPaypal(tom, trade);
    const bankTrades = [];
    for (const counterparty of [cora, carl]) {
      const trade = await accept(counterparty, (await request(tina, '700.00', 'bank_transfer')).id);
      watch(trade, `bank transfer with ${counterparty.name}, verified`);
      await fundBank(tina, trade);
      bankTrades.push({ trade, counterparty });
    }
    const overpaid = await accept(cleo, (await request(tina, '500.00', 'bank_transfer')).id);
    watch(overpaid, 'bank overpayment, excess returned');
    await fundBank(tina, overpaid, (Number(overpaid.amountUsd) + 10).toFixed(2));
    const confirmed = await accept(cora, (await request(tara, '600.00', 'paypal')).id);
    watch(confirmed, 'traveler confirms receipt');
    await fundPaypal(tara, confirmed);
    const cancelled = await accept(carl, (await request(tom, '200.00', 'paypal')).id);
    watch(cancelled, 'cancelled before funding');
    await ok(tom.client.POST('/v1/trades/{id}/cancel', { params: { path: { id: cancelled.id } } }));
    const wrongAmount = await accept(cleo, (await request(tom, '800.00', 'paypal')).id);
    watch(wrongAmount, 'dispute: wrong amount → split');
    await fundPaypal(tom, wrongAmount);
    const disputed = await accept(carl, (await request(tara, '900.00', 'paypal')).id);
    watch(disputed, 'dispute: by the traveler → release');
    await fundPaypal(tara, disputed);

    for (const id of [...fills.map((f) => f.trade.id), ...bankTrades.map((b) => b.trade.id), overpaid.id, confirmed.id, wrongAmount.id, disputed.id]) {
      await reach(id, ['funded']);
    }
    say(`${clock()}  all funded; the counterparties send RMB at the WeChat mock`);
    for (const { trade, counterparty } of fills) await payRmb(counterparty, tom, trade);
    for (const { trade, counterparty } of bankTrades) await payRmb(counterparty, tina, trade);
    await payRmb(cleo, tina, overpaid);
    await payRmb(cora, tara, confirmed, confirmed.amountCny, false);
    await ok(tara.client.POST('/v1/trades/{id}/confirm-receipt', { params: { path: { id: confirmed.id } } }));
    await payRmb(cleo, tom, wrongAmount, (Number(wrongAmount.amountCny) - 100).toFixed(2));
    await payRmb(carl, tara, disputed, disputed.amountCny, false);
    await ok(tara.client.POST('/v1/trades/{id}/disputes', { params: { path: { id: disputed.id } }, body: { reason: 'rmb_not_received', statement: 'I do not see it yet.' } }));

    // The operator works the queue: the split of the short payment, a release of the other.
    await reach(wrongAmount.id, ['disputed']);
    const queue = await ok(operator.client.GET('/v1/admin/disputes', { params: { query: { status: 'open' } } }));
    say(`${clock()}  the operator's queue: ${queue.data.length} open dispute(s)`);
    for (const dispute of queue.data) {
      const path = { id: dispute.id };
      await ok(operator.client.POST('/v1/admin/disputes/{id}/assign', { params: { path }, body: {} }));
      if (dispute.tradeId === wrongAmount.id) {
        const usd = Number(wrongAmount.amountUsd);
        const travelerPart = (usd / 8).toFixed(2);
        const counterpartyPart = (Math.round(usd * 100) - Math.round(Number(travelerPart) * 100)) / 100;
        await ok(operator.client.POST('/v1/admin/disputes/{id}/resolve', { params: { path }, body: { outcome: 'split', travelerUsd: travelerPart, counterpartyUsd: counterpartyPart.toFixed(2), note: '100 CNY short: that part back to the traveler.' } }));
      } else {
        await ok(operator.client.POST('/v1/admin/disputes/{id}/resolve', { params: { path }, body: { outcome: 'release', note: 'The WeChat transfer is there.' } }));
      }
    }

    const all = [...watched.keys()];
    for (const id of all) await reach(id, ['completed', 'refunded', 'settled_split', 'cancelled', 'expired'], 90000);
    await printNewEvents();

    // The summary.
    const trades = await Promise.all(all.map((id) => ok(operator.client.GET('/v1/trades/{id}', { params: { path: { id } } }))));
    const byState = {};
    for (const t of trades) byState[t.state] = (byState[t.state] ?? 0) + 1;
    const cents = (s) => Math.round(Number(s) * 100);
    const released = trades.filter((t) => t.state === 'completed').reduce((sum, t) => sum + cents(t.amountUsd), 0);
    const fees = trades.reduce((sum, t) => sum + cents(t.feeUsd), 0);
    const fen = cnyMoved.reduce((sum, a) => sum + Math.round(Number(a) * 100), 0);
    const check = await ok(operator.client.GET('/v1/admin/ledger/check'));
    say('');
    say('Summary');
    say(`  trades            ${trades.length}: ${Object.entries(byState).map(([s, n]) => `${n} ${s}`).join(', ')}`);
    say(`  USD released      ${(released / 100).toFixed(2)} (completed trades), fees ${(fees / 100).toFixed(2)}`);
    say(`  CNY moved         ${(fen / 100).toFixed(2)} between WeChat wallets`);
    say(`  ledger check      ${check.ok ? 'clean' : `${check.violations.length} violation(s)`}`);
    say(`  took              ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (!check.ok) process.exitCode = 1;
  } finally {
    if (child) {
      await stopService(child);
      await dropDatabase(databaseUrl);
    }
  }
}

main().catch((error) => {
  process.stderr.write(`demo failed: ${error.message}\n`);
  process.exit(1);
});
