import { DataSource } from 'typeorm';
import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { LedgerCheckService } from '../src/trades/ledger-check.service';
import { TradeTransitionsService as TradesService } from '../src/trades/trade-transitions.service';
import { createOperator, TestUser } from './support/factories';
import { fixed, readyCounterparty, readyTraveler } from './support/market';
import { eventually, startTestApp } from './support/test-app';
import { liveCounterMismatches } from './support/invariants';
import { quietRates, distantDeadlines } from './support/settings';
import { useTestApp } from './support/use-test-app';
import { FUNDED, REFUNDED, RELEASED, SPLIT_SETTLED } from './support/trades';

/**
 * The transitions other modules drive (funding, settlement, disputes), called directly on the trade service as those
 * modules call them, against the real PostgreSQL; every step is read back over HTTP, in the ledger, and through the
 * checker. The same paths through the providers' mocks are in the funding, settlement and dispute suites.
 */
describe('trade lifecycle and ledger', () => {
  const { test, api, db } = useTestApp(
    {
      ...quietRates,
      ...distantDeadlines,
      FUNDING_WINDOW_PAYPAL_MS: '300',
      FUNDING_WINDOW_BANK_MS: '3600000',
      TIER1_COMPLETED_TRADES: '2',
    },
    { reference: '7.2400' },
  );
  let trades: TradesService;
  let checker: LedgerCheckService;
  let dataSource: DataSource;
  let operator: TestUser;

  beforeAll(async () => {
    trades = test.app.get(TradesService);
    checker = test.app.get(LedgerCheckService);
    dataSource = test.app.get(DataSource);
    operator = await createOperator(test, api);
  });

  async function newTrade(amountCny = '1000.00', paymentMethod = 'bank_transfer', traveler?: TestUser, counterparty?: TestUser) {
    traveler ??= await readyTraveler(api);
    counterparty ??= await readyCounterparty(api);
    const request = await api('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny, price: fixed('7.2400'), paymentMethod },
    });
    const trade = await api('POST', `/v1/requests/${request.body.id}/accept`, { token: counterparty.token, body: {} });
    if (trade.status !== 201) throw new Error(trade.text);
    return { traveler, counterparty, requestId: request.body.id as string, trade: trade.body };
  }

  const openDispute = async (tradeId: string, party: TestUser, reason: string) => {
    const opened = await api('POST', `/v1/trades/${tradeId}/disputes`, {
      token: party.token,
      body: { reason, statement: 'Opened by the test.' },
    });
    expect(opened.status).toBe(201);
  };
  const expectClean = async () => expect(await checker.check()).toEqual({ ok: true, violations: [] });
  const inTransaction = <T>(work: (manager: import('typeorm').EntityManager) => Promise<T>) => dataSource.transaction(work);
  const escrow = async (tradeId: string) =>
    (
      await db.query(
        `SELECT credits_pending - debits_pending AS pending, credits_posted - debits_posted AS posted FROM ledger_accounts WHERE id = $1`,
        [`escrow:${tradeId}`],
      )
    ).rows[0];

  it('funds, releases and completes a trade: escrow held then settled, fee booked, payable cleared, counters up', async () => {
    const { traveler, counterparty, trade } = await newTrade('1000.00');
    await expectClean();

    await inTransaction((m) => trades.confirmFunding(m, trade.id, FUNDED));
    const funded = await api('GET', `/v1/trades/${trade.id}`, { token: counterparty.token });
    expect(funded.body).toMatchObject({ state: 'funded', deadlines: { fundingBy: expect.any(String), payoutBy: expect.any(String) } });
    // Only the counterparty, only now, sees where to send the RMB.
    expect(funded.body.travelerWechatId).toMatch(/^wx_/);
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body).not.toHaveProperty('travelerWechatId');
    expect(await escrow(trade.id)).toEqual({ pending: '13812', posted: '0' }); // $138.12
    await expectClean();

    expect((await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: counterparty.token })).status).toBe(403);
    const releasing = await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
    expect(releasing.status).toBe(200);
    expect(releasing.body.state).toBe('releasing');
    expect(await escrow(trade.id)).toEqual({ pending: '13812', posted: '0' });
    await expectClean();

    await inTransaction((m) => trades.completeRelease(m, trade.id, RELEASED));
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: counterparty.token })).body).not.toHaveProperty('travelerWechatId');
    expect(await escrow(trade.id)).toEqual({ pending: '0', posted: '0' });
    const fee = await db.query(`SELECT amount FROM ledger_transfers WHERE trade_id = $1 AND kind = 'escrow_to_fee_revenue'`, [trade.id]);
    expect(fee.rows[0].amount).toBe('138'); // 1% of $138.12, half-up
    const payable = await db.query(`SELECT credits_posted - debits_posted AS owed FROM ledger_accounts WHERE id = $1`, [
      `counterparty_payable:${trade.id}`,
    ]);
    expect(payable.rows[0].owed).toBe('0');
    await expectClean();

    const timeline = (await api('GET', `/v1/trades/${trade.id}/events`, { token: traveler.token })).body.data;
    // The counterparty's read in \`funded\` showed the handle: recorded once, without it.
    expect(timeline.filter((e: { type: string }) => e.type === 'handle_revealed').map((e: { detail: unknown }) => e.detail)).toEqual([
      { field: 'travelerWechatId', to: 'counterparty', state: 'funded' },
    ]);
    const events = timeline.filter((e: { type: string }) => e.type === 'state_changed');
    expect(events.map((e: { toState: string }) => e.toState)).toEqual(['awaiting_funding', 'funded', 'releasing', 'completed']);
    expect(events.map((e: { actor: { kind: string } }) => e.actor.kind)).toEqual(['counterparty', 'system', 'traveler', 'system']);
    const me = await api('GET', '/v1/me', { token: counterparty.token });
    expect(me.body.reputation).toMatchObject({ completedTrades: 1, completionRate: 1, medianReleaseMinutes: 0 });
    const minutes = await db.query(`SELECT recent_release_minutes FROM user_reputation WHERE user_id IN ($1, $2)`, [
      traveler.id,
      counterparty.id,
    ]);
    expect(minutes.rows.map((r) => r.recent_release_minutes)).toEqual([[0], [0]]);

    // Over HTTP for operators.
    const check = await api('GET', '/v1/admin/ledger/check', { token: operator.token });
    expect(check.status).toBe(200);
    expect(check.body).toEqual({ ok: true, violations: [] });
    expect((await api('GET', '/v1/admin/ledger/check', { token: traveler.token })).status).toBe(403);
  });

  it('refunds a trade whose payout window passed (by its job): the hold voided, the amount and volume back', async () => {
    const { traveler, counterparty, trade, requestId } = await newTrade('500.00');
    await inTransaction((m) => trades.confirmFunding(m, trade.id, FUNDED));
    // Time passes: the window closes, and its delayed job is run now.
    await db.query(`UPDATE trades SET payout_by = now() - interval '1 second' WHERE id = $1`, [trade.id]);
    const queue = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    const job = await eventually(async () => queue.getJob(`deadline-${trade.id}-payout`));
    await job.promote();
    // The deadline starts the last search at WeChat; it finds no transfer, so the trade is refunded.
    await eventually(async () => (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.state === 'refunding');
    expect((await db.query(`SELECT failed_trades FROM user_reputation WHERE user_id = $1`, [counterparty.id])).rows[0].failed_trades).toBe(
      1,
    );
    await expectClean();

    await inTransaction((m) => trades.completeRefund(m, trade.id, REFUNDED));
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body).toMatchObject({
      state: 'refunded',
      feeUsd: '0.00',
      // The USD went back to the traveler.
      netUsd: '0.00',
    });
    expect(await escrow(trade.id)).toEqual({ pending: '0', posted: '0' });
    expect((await api('GET', `/v1/requests/${requestId}`, { token: traveler.token })).body).toMatchObject({
      remainingCny: '500.00',
      status: 'open',
    });
    const volume = await db.query(`SELECT coalesce(sum(usd_cents), 0)::int AS c FROM user_daily_volume WHERE user_id = $1`, [traveler.id]);
    expect(volume.rows[0].c).toBe(0);
    await expectClean();
  });

  it('takes a payout report once per WeChat transfer, then releases from payout_sent', async () => {
    const { traveler, counterparty, trade } = await newTrade('200.00');
    await inTransaction((m) => trades.confirmFunding(m, trade.id, FUNDED));
    expect(
      (await api('POST', `/v1/trades/${trade.id}/payout`, { token: counterparty.token, body: { wechatTransferId: 'x' } })).status,
    ).toBe(400);
    const reported = await api('POST', `/v1/trades/${trade.id}/payout`, {
      token: counterparty.token,
      body: { wechatTransferId: 'WX-TRANSFER-0001' },
    });
    expect(reported.status).toBe(200);
    expect(reported.body).toMatchObject({ state: 'payout_sent', deadlines: { verifyBy: expect.any(String) } });
    expect(reported.body.travelerWechatId).toMatch(/^wx_/);
    await expectClean();

    // The same transfer cannot settle a second trade.
    const other = await newTrade('100.00', 'bank_transfer', undefined, counterparty);
    await inTransaction((m) => trades.confirmFunding(m, other.trade.id, FUNDED));
    const reused = await api('POST', `/v1/trades/${other.trade.id}/payout`, {
      token: counterparty.token,
      body: { wechatTransferId: 'WX-TRANSFER-0001' },
    });
    expect(reused.status).toBe(409);
    expect(reused.body.code).toBe('wechat_transfer_used');
    expect((await api('GET', `/v1/trades/${other.trade.id}`, { token: counterparty.token })).body.state).toBe('funded');

    expect((await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token })).body.state).toBe('releasing');
    await inTransaction((m) => trades.completeRelease(m, trade.id, RELEASED));
    const events = (await api('GET', `/v1/trades/${trade.id}/events`, { token: traveler.token })).body.data.filter(
      (e: { type: string }) => e.type === 'state_changed',
    );
    expect(events.map((e: { toState: string }) => e.toState)).toEqual([
      'awaiting_funding',
      'funded',
      'payout_sent',
      'releasing',
      'completed',
    ]);
    expect(events[2].detail).toEqual({ wechatTransferId: 'WX-TRANSFER-0001' });
    await expectClean();
  });

  it('settles a dispute by a split: the hold posted in part, the fee on the counterparty part only', async () => {
    const { traveler, trade } = await newTrade('1000.00'); // $138.12
    await inTransaction((m) => trades.confirmFunding(m, trade.id, FUNDED));
    await openDispute(trade.id, traveler, 'rmb_not_received');
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.state).toBe('disputed');
    await expectClean();

    await expect(
      inTransaction((m) =>
        trades.resolveDispute(m, trade.id, operator.id, { outcome: 'split', travelerUsd: 5000n, counterpartyUsd: 8811n }),
      ),
    ).rejects.toMatchObject({ code: 'split_mismatch' });
    await expect(
      inTransaction((m) => trades.resolveDispute(m, trade.id, operator.id, { outcome: 'split', travelerUsd: 0n, counterpartyUsd: 13812n })),
    ).rejects.toMatchObject({ code: 'split_mismatch' });
    await inTransaction((m) =>
      trades.resolveDispute(m, trade.id, operator.id, { outcome: 'split', travelerUsd: 5000n, counterpartyUsd: 8812n }),
    );
    // The counterparty's part less 1% of it, as settlement will pay it.
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body).toMatchObject({
      state: 'splitting',
      netUsd: '87.24',
    });
    expect(await escrow(trade.id)).toEqual({ pending: '13812', posted: '0' });
    await expectClean();

    const settled = await inTransaction((m) => trades.completeSplit(m, trade.id, SPLIT_SETTLED));
    expect(settled.state).toBe('settled_split');
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body).toMatchObject({ feeUsd: '0.88', netUsd: '87.24' }); // 1% of $88.12
    expect(await escrow(trade.id)).toEqual({ pending: '0', posted: '0' });
    const transfers = await db.query(`SELECT kind, phase, amount FROM ledger_transfers WHERE trade_id = $1 ORDER BY created_at, kind`, [
      trade.id,
    ]);
    expect(transfers.rows).toEqual(
      expect.arrayContaining([
        { kind: 'escrow_hold', phase: 'pending', amount: '13812' },
        { kind: 'escrow_hold_posted', phase: 'post', amount: '8812' },
        { kind: 'escrow_to_counterparty_payable', phase: 'single', amount: '8724' },
        { kind: 'escrow_to_fee_revenue', phase: 'single', amount: '88' },
        { kind: 'counterparty_payable_cleared', phase: 'single', amount: '8724' },
      ]),
    );
    await expectClean();
  });

  it('refunds a disputed trade by an operator decision', async () => {
    const { counterparty, trade } = await newTrade('100.00');
    await inTransaction((m) => trades.confirmFunding(m, trade.id, FUNDED));
    await openDispute(trade.id, counterparty, 'other');
    // A dispute stops everything but an operator's decision.
    await expect(inTransaction((m) => trades.completeRelease(m, trade.id, RELEASED))).rejects.toMatchObject({
      code: 'invalid_state_transition',
    });
    await expect(inTransaction((m) => trades.payoutWindowPassed(m, trade.id))).resolves.toBe(false);
    await inTransaction((m) => trades.resolveDispute(m, trade.id, operator.id, { outcome: 'refund' }));
    await inTransaction((m) => trades.completeRefund(m, trade.id, REFUNDED));
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: counterparty.token })).body.state).toBe('refunded');
    const events = (await api('GET', `/v1/trades/${trade.id}/events`, { token: counterparty.token })).body.data;
    expect(events.map((e: { type: string; actor: { kind: string } }) => `${e.type}:${e.actor.kind}`)).toEqual([
      'state_changed:counterparty',
      'state_changed:system',
      'state_changed:counterparty',
      'dispute_statement:counterparty',
      'state_changed:operator',
      'state_changed:system',
    ]);
    await expectClean();
  });

  it('refuses transitions the state machine does not allow, and a second resolution of the hold', async () => {
    const { trade } = await newTrade('100.00');
    await expect(inTransaction((m) => trades.completeRelease(m, trade.id, RELEASED))).rejects.toMatchObject({
      code: 'invalid_state_transition',
    });
    await inTransaction((m) => trades.confirmFunding(m, trade.id, FUNDED));
    await expect(inTransaction((m) => trades.confirmFunding(m, trade.id, FUNDED))).rejects.toMatchObject({
      code: 'invalid_state_transition',
    });
    const cancel = await api('POST', `/v1/trades/${trade.id}/cancel`, { token: (await readyTraveler(api)).token });
    expect(cancel.status).toBe(404);
    // The database refuses a second resolution of one hold even if code tried it (tried in a transaction rolled back after).
    await db.query('BEGIN');
    const hold = await db.query(
      `SELECT id, debit_account, credit_account FROM ledger_transfers WHERE trade_id = $1 AND kind = 'escrow_hold'`,
      [trade.id],
    );
    await db.query(
      `INSERT INTO ledger_transfers (trade_id, kind, phase, pending_id, debit_account, credit_account, amount, currency) VALUES ($1, 'manual_void', 'void', $2, $3, $4, 0, 'USD')`,
      [trade.id, hold.rows[0].id, hold.rows[0].debit_account, hold.rows[0].credit_account],
    );
    await expect(
      db.query(
        `INSERT INTO ledger_transfers (trade_id, kind, phase, pending_id, debit_account, credit_account, amount, currency) VALUES ($1, 'manual_void_2', 'void', $2, $3, $4, 0, 'USD')`,
        [trade.id, hold.rows[0].id, hold.rows[0].debit_account, hold.rows[0].credit_account],
      ),
    ).rejects.toThrow(/ledger_transfers_resolved_once/);
    await db.query('ROLLBACK');
    await expect(db.query(`UPDATE ledger_transfers SET amount = 1 WHERE trade_id = $1`, [trade.id])).rejects.toThrow('append-only');
    await expectClean();
  });

  it('finds a balance moved outside a transfer', async () => {
    const { trade } = await newTrade('100.00');
    await inTransaction((m) => trades.confirmFunding(m, trade.id, FUNDED));
    await expectClean();
    await db.query(`UPDATE ledger_accounts SET credits_posted = credits_posted + 7 WHERE id = $1`, [`escrow:${trade.id}`]);
    try {
      const report = await checker.check();
      expect(report.ok).toBe(false);
      const invariants = report.violations.map((v) => v.invariant);
      expect(invariants).toEqual(expect.arrayContaining(['entries_sum_to_zero', 'balances_match_entries', 'escrow_matches_state']));
      expect(report.violations.filter((v) => v.invariant === 'escrow_matches_state').map((v) => v.tradeId)).toEqual([trade.id]);
    } finally {
      await db.query(`UPDATE ledger_accounts SET credits_posted = credits_posted - 7 WHERE id = $1`, [`escrow:${trade.id}`]);
    }
    await expectClean();
  });

  it('lets a cancel and the funding deadline race: exactly one of them ends the trade, the amount returns once', async () => {
    for (let round = 0; round < 5; round += 1) {
      const { traveler, trade, requestId } = await newTrade('100.00');
      await db.query(`UPDATE trades SET funding_by = now() - interval '1 second' WHERE id = $1`, [trade.id]);
      const [cancel] = await Promise.all([
        api('POST', `/v1/trades/${trade.id}/cancel`, { token: traveler.token }),
        inTransaction((m) => trades.expireUnfunded(m, trade.id)),
      ]);
      const state = (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.state;
      expect(['cancelled', 'expired']).toContain(state);
      expect(cancel.status).toBe(state === 'cancelled' ? 200 : 409);
      const ends = await db.query(
        `SELECT count(*)::int AS n FROM trade_events WHERE trade_id = $1 AND to_state IN ('cancelled', 'expired')`,
        [trade.id],
      );
      expect(ends.rows[0].n).toBe(1);
      expect((await api('GET', `/v1/requests/${requestId}`, { token: traveler.token })).body.remainingCny).toBe('100.00');
      expect((await db.query(`SELECT failed_trades FROM user_reputation WHERE user_id = $1`, [traveler.id])).rows[0].failed_trades).toBe(1);
    }
    await expectClean();
  });

  it('gives tier 1 by itself after enough completed trades with no dispute lost', async () => {
    const traveler = await readyTraveler(api);
    const counterparty = await readyCounterparty(api);
    for (let i = 0; i < 2; i += 1) {
      const { trade } = await newTrade('100.00', 'bank_transfer', traveler, counterparty);
      await inTransaction((m) => trades.confirmFunding(m, trade.id, FUNDED));
      await api('POST', `/v1/trades/${trade.id}/confirm-receipt`, { token: traveler.token });
      await inTransaction((m) => trades.completeRelease(m, trade.id, RELEASED));
    }
    expect((await api('GET', '/v1/me', { token: counterparty.token })).body.tier).toBe(1);
    expect((await api('GET', '/v1/me', { token: traveler.token })).body.tier).toBe(1);
  });

  it('changes nothing twice with two worker processes applying the same deadlines', async () => {
    const second = await startTestApp(
      {
        RATE_FEED_WALK_BPS: '0',
        REFERENCE_RATE_REFRESH_EVERY_MS: '3600000',
        FUNDING_WINDOW_PAYPAL_MS: '300',
        DEADLINE_SWEEP_EVERY_MS: '3600000',
      },
      test,
    );
    try {
      const traveler = await readyTraveler(api);
      await api('PUT', `/v1/admin/users/${traveler.id}/tier`, { token: operator.token, body: { tier: 2 } });
      const request = await api('POST', '/v1/requests', {
        token: traveler.token,
        // Bank transfers: a one-hour window, so nothing expires until the test says so.
        body: { amountCny: '1000.00', minFillCny: '100.00', price: fixed('7.2400'), paymentMethod: 'bank_transfer' },
      });
      const ids: string[] = [];
      for (let i = 0; i < 10; i += 1) {
        const cp = await readyCounterparty(api);
        ids.push((await api('POST', `/v1/requests/${request.body.id}/accept`, { token: cp.token, body: { amountCny: '100.00' } })).body.id);
      }
      // The windows close: every delayed job is run now, while both processes sweep at once.
      await db.query(`UPDATE trades SET funding_by = now() - interval '1 second' WHERE id = ANY($1::uuid[])`, [ids]);
      const queue = test.app.get(QueueRegistry).get(QUEUES.deadlines);
      const jobs = await Promise.all(ids.map((id) => eventually(async () => queue.getJob(`deadline-${id}-funding`))));
      await Promise.all([
        ...jobs.map((job) => job.promote()),
        ...[test, second].map((app) => app.app.get(QueueRegistry).get(QUEUES.deadlines).add(JOBS.deadlines.sweepDeadlines, {})),
      ]);
      await eventually(async () => {
        const states = await db.query(`SELECT count(*)::int AS n FROM trades WHERE id = ANY($1::uuid[]) AND state = 'expired'`, [ids]);
        return states.rows[0].n === ids.length;
      });
      const events = await db.query(
        `SELECT trade_id, count(*)::int AS n FROM trade_events WHERE trade_id = ANY($1::uuid[]) AND to_state = 'expired' GROUP BY trade_id`,
        [ids],
      );
      expect(events.rows.map((r) => r.n)).toEqual(ids.map(() => 1));
      expect((await db.query(`SELECT failed_trades FROM user_reputation WHERE user_id = $1`, [traveler.id])).rows[0].failed_trades).toBe(
        10,
      );
      expect((await api('GET', `/v1/requests/${request.body.id}`, { token: traveler.token })).body).toMatchObject({
        remainingCny: '1000.00',
        status: 'open',
      });
      const volume = await db.query(`SELECT coalesce(sum(usd_cents), 0)::int AS c FROM user_daily_volume WHERE user_id = $1`, [
        traveler.id,
      ]);
      expect(volume.rows[0].c).toBe(0);
      await expectClean();
      const returned = await db.query(
        `SELECT count(*)::int AS n FROM trade_reservations WHERE trade_id = ANY($1::uuid[]) AND returned_at IS NOT NULL`,
        [ids],
      );
      expect(returned.rows[0].n).toBe(10);
    } finally {
      await second.close();
    }
  });

  it("keeps every party's live-trade counter equal to a count of their live trades", async () => {
    const trades = await db.query(`SELECT count(*)::int AS n FROM trades`);
    expect(trades.rows[0].n).toBeGreaterThan(0);
    expect(await liveCounterMismatches(db)).toEqual([]);
  });
});
