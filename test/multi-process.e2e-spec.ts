import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Redis } from 'ioredis';
import { ALL_QUEUES } from '../src/queues/queue-names';
import { deploymentKeyPattern, hashTagOf } from '../src/queues/queue-keys';
import { Cluster, ensureBuilt } from './support/crash/cluster';
import { party, until } from './support/crash/operations';
import { providerViolations, silentlyStuck } from './support/crash/provider-checks';
import { DrivenTrade, Observations, Party, patientClient, PatientApi, Script, TradeDriver } from './support/crash/trade-scripts';
import type { RequestOptions } from './support/http';
import { liveCounterMismatches } from './support/invariants';

/**
 * Several API processes and several worker processes of one deployment (one database, one queue prefix), as
 * docs/SCALING.md describes: whole trades driven concurrently with every call going to the next API process in turn,
 * several counterparties accepting one request at once through different API processes, and one worker process
 * killed with SIGKILL while the trades are under way and not started again. The others must finish the work: every
 * trade at its end, each provider movement made once, the books balanced, no state change applied twice.
 */
const APIS = 3;
const WORKERS = 3;

/** Short timers, so the payout deadline's refund and a dead worker's stalled jobs come within seconds. */
const ENV: Record<string, string> = {
  RATE_FEED_WALK_BPS: '0',
  OUTBOX_POLL_INTERVAL_MS: '200',
  WORKER_CONCURRENCY: '4',
  FUNDING_WORKER_CONCURRENCY: '4',
  SETTLEMENT_WORKER_CONCURRENCY: '4',
  PROVIDER_POLL_EVERY_MS: '300',
  PROVIDER_POLL_MAX_EVERY_MS: '1000',
  PROVIDER_WORK_SWEEP_EVERY_MS: '1000',
  DEADLINE_SWEEP_EVERY_MS: '1000',
  EXPIRY_SWEEP_EVERY_MS: '1000',
  PAYOUT_WINDOW_MS: '20000',
  SETTLEMENT_CLAIM_LEASE_MS: '3000',
  SETTLEMENT_WATCH_POLL_MAX_MS: '1000',
  PAYPAL_MOCK_PAYOUT_DELAY_MS: '300',
  PAYPAL_MOCK_WEBHOOK_BACKOFF_MS: '200',
  BANK_MOCK_SETTLEMENT_DELAY_MS: '300',
  BANK_MOCK_WEBHOOK_BACKOFF_MS: '200',
  WECHAT_MOCK_NOTIFY_SCHEDULE_MS: '200,500,1000,2000',
  RATE_LIMIT_ENABLED: 'false',
  // Six processes, each with its pool and its listening connections: small pools leave room under max_connections.
  DATABASE_POOL_SIZE: '5',
  ...Object.fromEntries(
    [0, 1, 2].flatMap((tier) => [
      [`TIER${tier}_OPEN_TRADES`, '1000'],
      [`TIER${tier}_DAILY_USD`, '100000000'],
    ]),
  ),
};

const ENDED = ['completed', 'refunded', 'settled_split', 'cancelled', 'expired'];
const ENDS_AS: Partial<Record<Script, string>> = {
  paypal_verified: 'completed',
  bank_verified: 'completed',
  paypal_confirmed: 'completed',
  paypal_dispute_refund: 'refunded',
  bank_dispute_refund: 'refunded',
  paypal_payout_deadline: 'refunded',
};

const say = (line: string) => process.stdout.write(`multi-process: ${line}\n`);

describe('Several API and worker processes on one database and one Redis (child processes)', () => {
  let cluster: Cluster | undefined;
  let db: Client;
  /** One client per API process, in order. */
  let apis: PatientApi[];
  /** Each call to the next API process in turn: one trade's calls are spread over all of them. */
  let spread: PatientApi;
  let operatorToken: string;

  beforeAll(async () => {
    ensureBuilt();
    cluster = await Cluster.start(WORKERS, ENV, { apis: APIS });
    apis = cluster.apis().map((member) => patientClient(cluster!.baseUrlOf(member)));
    let turn = 0;
    spread = (<T = any>(method: string, path: string, options?: RequestOptions) =>
      apis[turn++ % apis.length]<T>(method, path, options)) as PatientApi;
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    const opsEmail = `ops-${randomBytes(4).toString('hex')}@example.com`;
    cluster.cli('create-operator', opsEmail, 'operator password 1');
    operatorToken = (await spread('POST', '/v1/auth/login', { body: { email: opsEmail, password: 'operator password 1' } })).body
      .accessToken;
    await until(async () => {
      const rate = await spread('GET', '/v1/rates/usd-cny');
      return rate.status === 200 && !rate.body.stale;
    }, 60000);
  }, 240000);

  afterAll(async () => {
    await db?.end().catch(() => undefined);
    await cluster?.stop();
  }, 60000);

  /** Every counterparty accepts the request at once, the i-th through API process i (mod their number). */
  async function acceptTogether(requestId: string, counterparties: Party[], amountCny?: string) {
    const answers = await Promise.all(
      counterparties.map((cp, i) =>
        apis[i % apis.length]('POST', `/v1/requests/${requestId}/accept`, { token: cp.token, body: amountCny ? { amountCny } : {} }),
      ),
    );
    return answers.map((answer, i) => ({
      counterparty: counterparties[i],
      status: answer.status,
      code: answer.body?.code,
      trade: answer.body,
    }));
  }

  async function newRequest(traveler: Party, amountCny: string, paymentMethod: 'paypal' | 'bank_transfer', minFillCny?: string) {
    const request = await spread('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny, price: { type: 'fixed', rate: '7.2400' }, paymentMethod, ...(minFillCny ? { minFillCny } : {}) },
    });
    expect(request.status).toBe(201);
    return request.body.id as string;
  }

  it('finishes concurrent whole trades and accept races spread over the API processes, with a worker process killed mid-run', async () => {
    const c = cluster!;
    const travelers = await Promise.all([1, 2, 3].map((n) => party(spread, 'traveler', `mt${n}`, '0.00')));
    const counterparties = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => party(spread, 'counterparty', `mc${n}`, '1000000.00')));

    // One request, four parts of it open: six counterparties take a part at once; exactly four get one.
    const shared = await newRequest(travelers[0], '400.00', 'paypal', '100.00');
    const parts = await acceptTogether(shared, counterparties, '100.00');
    // Two whole requests, each accepted by three counterparties at once: one trade each.
    const wholeBank = await newRequest(travelers[1], '700.00', 'bank_transfer');
    const wholePaypal = await newRequest(travelers[2], '500.00', 'paypal');
    const [bankRace, paypalRace] = await Promise.all([
      acceptTogether(wholeBank, counterparties.slice(0, 3)),
      acceptTogether(wholePaypal, counterparties.slice(3, 6)),
    ]);
    // Two more trades without a race.
    const plain = await Promise.all(
      [
        { traveler: travelers[1], method: 'bank_transfer' as const, cp: counterparties[0] },
        { traveler: travelers[2], method: 'paypal' as const, cp: counterparties[5] },
      ].map(async ({ traveler, method, cp }) => {
        const id = await newRequest(traveler, '300.00', method);
        const [accepted] = await acceptTogether(id, [cp]);
        return accepted;
      }),
    );

    const statuses = (race: { status: number }[]) => race.map((a) => a.status).sort();
    expect(statuses(parts)).toEqual([201, 201, 201, 201, 409, 409]);
    expect(statuses(bankRace)).toEqual([201, 409, 409]);
    expect(statuses(paypalRace)).toEqual([201, 409, 409]);
    expect(plain.map((a) => a.status)).toEqual([201, 201]);
    const won = (race: typeof parts) => race.filter((a) => a.status === 201);
    const onShared = await db.query(`SELECT count(*)::int AS n, sum(amount_cny)::text AS fen FROM trades WHERE request_id = $1`, [shared]);
    expect(onShared.rows[0]).toEqual({ n: 4, fen: '40000' });
    const filled = await spread('GET', `/v1/requests/${shared}`, { token: travelers[0].token });
    expect(filled.body.remainingCny).toBe('0.00');

    // What each accepted trade does next, through PayPal or the bank, the RMB leg, release or refund.
    const sharedScripts: Script[] = ['paypal_verified', 'paypal_confirmed', 'paypal_dispute_refund', 'paypal_payout_deadline'];
    const plans: { script: Script; traveler: Party; accepted: (typeof parts)[number] }[] = [
      ...won(parts).map((accepted, i) => ({ script: sharedScripts[i], traveler: travelers[0], accepted })),
      { script: 'bank_verified', traveler: travelers[1], accepted: won(bankRace)[0] },
      { script: 'paypal_verified', traveler: travelers[2], accepted: won(paypalRace)[0] },
      { script: 'bank_dispute_refund', traveler: travelers[1], accepted: plain[0] },
      { script: 'paypal_verified', traveler: travelers[2], accepted: plain[1] },
    ];
    const observed: Observations = {
      anomalies: [],
      claimedTransfers: [],
      reuseRefused: 0,
      serverErrors: 0,
      interrupted: 0,
      abandoned: [],
      late: 0,
    };
    const driver = new TradeDriver(spread, operatorToken, observed, 60000);
    const tradeIds = plans.map((p) => p.accepted.trade.id as string);
    const driving = Promise.all(
      plans.map((p) =>
        driver.drive(p.script, p.accepted.trade, p.traveler, p.accepted.counterparty).catch((error: Error): DrivenTrade => {
          observed.anomalies.push(`${p.script}: ${error.message}`);
          return { id: p.accepted.trade.id, script: p.script, reached: 'failed' };
        }),
      ),
    );

    // One worker process dies (SIGKILL, no shutdown hook, not started again) once the trades' jobs are under way.
    const liveTrades = async () =>
      (await db.query(`SELECT count(*)::int AS n FROM trades WHERE id = ANY($1) AND NOT state = ANY($2)`, [tradeIds, ENDED])).rows[0].n;
    await until(
      async () => (await db.query(`SELECT 1 FROM trades WHERE id = ANY($1) AND state <> 'awaiting_funding'`, [tradeIds])).rows.length >= 3,
      60000,
    );
    const victim = c.workers()[0];
    const killedAt = (await db.query(`SELECT now() AS at`)).rows[0].at as Date;
    const busyAtKill = await c.activeWork();
    await c.kill(victim);
    const liveAtKill = await liveTrades();
    say(`killed ${victim.name} with ${liveAtKill} of ${tradeIds.length} trades live, jobs active in: ${busyAtKill.join(', ') || 'none'}`);

    const driven = await driving;
    await until(async () => (await liveTrades()) === 0, 120000).catch(() => say('not every trade ended in time; judging what is left'));

    const finals = await db.query(`SELECT id, state FROM trades WHERE id = ANY($1)`, [tradeIds]);
    const stateOf = new Map(finals.rows.map((r) => [r.id, r.state]));
    const endedAfterKill = await db.query(
      `SELECT count(*)::int AS n FROM trade_events WHERE trade_id = ANY($1) AND type = 'state_changed' AND to_state = ANY($2) AND at > $3`,
      [tradeIds, ENDED, killedAt],
    );
    // A job that ran its effect twice would show as a state entered twice, a second provider movement or a ledger
    // entry twice (the books' check); the mocks' tables are read for the movements.
    const enteredTwice = await db.query(
      `SELECT trade_id, to_state, count(*)::int AS n FROM trade_events WHERE type = 'state_changed' GROUP BY 1, 2 HAVING count(*) > 1`,
    );
    const ledger = await spread('GET', '/v1/admin/ledger/check', { token: operatorToken });
    say(JSON.stringify({ driven: driven.map((d) => `${d.script}: ${d.reached}`), endedAfterKill: endedAfterKill.rows[0].n }));

    expect({
      anomalies: observed.anomalies,
      serverErrors: observed.serverErrors,
      late: observed.late,
      finals: plans.map((p) => `${p.script}: ${stateOf.get(p.accepted.trade.id)}`),
      stuck: await silentlyStuck(db),
      providers: await providerViolations(db),
      enteredTwice: enteredTwice.rows,
      ledger: ledger.body,
      counters: await liveCounterMismatches(db),
      unexpectedExits: c.unexpectedExits(),
      survivors: c.workers().filter((w) => w !== victim && w.child?.exitCode === null && w.child.signalCode === null).length,
    }).toEqual({
      anomalies: [],
      serverErrors: 0,
      late: 0,
      finals: plans.map((p) => `${p.script}: ${ENDS_AS[p.script]}`),
      stuck: [],
      providers: {},
      enteredTwice: [],
      ledger: { ok: true, violations: [] },
      counters: [],
      unexpectedExits: [],
      survivors: WORKERS - 1,
    });
    // The kill came while there was work left, and the remaining worker processes finished it.
    expect(liveAtKill).toBeGreaterThan(0);
    expect(endedAfterKill.rows[0].n).toBeGreaterThan(0);
  }, 300000);

  it("keeps each queue's keys under the queue's own hash tag", async () => {
    const c = cluster!;
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const keys: string[] = [];
    try {
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', deploymentKeyPattern(c.queuePrefix), 'COUNT', 1000);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    const deployment = c.queuePrefix.slice(1, -1);
    const tags = new Set(keys.map(hashTagOf));
    // Every queue has keys (its meta, from the moment a process opened it) under its own tag...
    expect(ALL_QUEUES.filter((queue) => !tags.has(`${deployment}:${queue}`))).toEqual([]);
    // ...and a key under a queue's tag is that queue's: `{<deployment>:<queue>}:<queue>:…`.
    const misplaced = keys.filter((key) => {
      const tag = hashTagOf(key);
      if (tag === deployment)
        return ALL_QUEUES.some((queue) => key.startsWith(`{${deployment}}:${queue}:`) && /:(meta|id|events)$/.test(key));
      const queue = tag.slice(deployment.length + 1);
      return !ALL_QUEUES.includes(queue as never) || !key.startsWith(`{${tag}}:${queue}:`);
    });
    expect(misplaced).toEqual([]);
  });
});
