import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { DisputesService } from '../src/disputes/disputes.service';
import { QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { createOperator, registerUser, TestUser } from './support/factories';
import { completedJobResult, eventually } from './support/test-app';
import { liveCounterMismatches } from './support/invariants';
import { settling } from './support/settings';
import { useTestApp } from './support/use-test-app';
import { fundTrade, newTrade as newPaypalTrade } from './support/trades';
import { paypalOrder, paypalPayoutItems } from './support/paypal';

/** Disputes and the operators' admin API, through HTTP with real workers settling the outcomes at the PayPal mock. */
describe('Disputes and operators (HTTP)', () => {
  const { test, api, db, expectClean } = useTestApp(
    {
      ...settling,
      // PayPal's honour period, shortened: a held authorization is captured into escrow at 2.4 s.
      PAYPAL_HONOR_PERIOD_MS: '3000',
    },
    { reference: '7.2400' },
  );
  let operator: TestUser;
  let otherOperator: TestUser;

  beforeAll(async () => {
    operator = await createOperator(test, api);
    otherOperator = await createOperator(test, api);
  });

  const state = async (tradeId: string) => (await api('GET', `/v1/trades/${tradeId}`, { token: operator.token })).body.state;

  /** A PayPal trade of 1000 CNY at 7.24 ($138.12, fee $1.38), awaiting funding; with each party's payment handles. */
  const newTrade = () => newPaypalTrade(api, { handles: { travelerPaypal: `payer-${randomUUID().slice(0, 8)}@example.com` } });

  /** The same trade, funded through the mock (the traveler pays from their own PayPal address). */
  async function fundedTrade() {
    const parties = await newTrade();
    const { trade, handles } = parties;
    const { orderId } = await fundTrade(api, parties);
    expect(await state(trade.id)).toBe('funded');
    // The handles are the real ones: while funded, the counterparty is shown exactly this one.
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: parties.counterparty.token })).body.travelerWechatId).toBe(
      handles.travelerWechat,
    );
    return { ...parties, orderId: orderId! };
  }

  async function disputedTrade() {
    const parties = await fundedTrade();
    const opened = await api('POST', `/v1/trades/${parties.trade.id}/disputes`, {
      token: parties.traveler.token,
      body: { reason: 'rmb_not_received', statement: 'Nothing arrived in my WeChat wallet.' },
    });
    expect(opened.status).toBe(201);
    return { ...parties, dispute: opened.body as { id: string } };
  }

  const authorizationOf = async (orderId: string) => (await paypalOrder(api, orderId)).authorization!.status;
  const refundsOf = async (orderId: string) => (await paypalOrder(api, orderId)).refunds.map(({ amountCents }) => ({ amountCents }));
  /** The trade's own entries, PayPal's fees aside. */
  const escrowEntries = async (tradeId: string) =>
    (
      await db.query(`SELECT kind, phase, amount FROM ledger_transfers WHERE trade_id = $1 AND kind NOT LIKE 'provider_%' ORDER BY kind`, [
        tradeId,
      ])
    ).rows;
  const payoutOf = async (tradeId: string) =>
    (await paypalPayoutItems(api, `yb-${tradeId}-payout`)).map(({ receiver, amountCents, status }) => ({ receiver, amountCents, status }));

  it('lets the traveler open a dispute from funded: the trade shows it, its deadlines stop, the authorization is captured into escrow', async () => {
    const { traveler, counterparty, trade, orderId } = await fundedTrade();
    const opened = await api('POST', `/v1/trades/${trade.id}/disputes`, {
      token: traveler.token,
      body: { reason: 'rmb_not_received', statement: 'Nothing arrived in my WeChat wallet.' },
    });
    expect(opened.status).toBe(201);
    expect(opened.body).toMatchObject({
      tradeId: trade.id,
      status: 'open',
      reason: 'rmb_not_received',
      openedBy: { kind: 'traveler', id: traveler.id },
      assignedTo: null,
      outcome: null,
      statements: [{ author: { kind: 'traveler', id: traveler.id }, text: 'Nothing arrived in my WeChat wallet.', attachments: [] }],
    });
    const view = (await api('GET', `/v1/trades/${trade.id}`, { token: counterparty.token })).body;
    expect(view).toMatchObject({ state: 'disputed', disputeId: opened.body.id });
    // The counterparty no longer sees where to send RMB, and the trade shows no deadline while disputed.
    expect(view.travelerWechatId).toBeUndefined();
    expect(view.deadlines.payoutBy ?? null).toBeNull();
    await eventually(async () => (await authorizationOf(orderId)) === 'CAPTURED');

    // One unresolved dispute per trade: a second one, by either party, is refused.
    const again = await api('POST', `/v1/trades/${trade.id}/disputes`, {
      token: counterparty.token,
      body: { reason: 'other', statement: 'Me too.' },
    });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('invalid_state_transition');

    // The payout window passing changes nothing while the dispute is open.
    await db.query(`UPDATE trades SET payout_by = now() - interval '1 second' WHERE id = $1`, [trade.id]);
    const deadlines = test.app.get(QueueRegistry).get(QUEUES.deadlines);
    const deadline = await eventually(async () => deadlines.getJob(`deadline-${trade.id}-payout`));
    await deadline.promote();
    await eventually(async () => (await deadline.getState()) === 'completed');
    expect(await state(trade.id)).toBe('disputed');
    await expectClean();
  });

  it('lets the counterparty open one from payout_sent, and the system open one through its service method', async () => {
    const first = await fundedTrade();
    await api('POST', `/v1/trades/${first.trade.id}/payout`, {
      token: first.counterparty.token,
      body: { wechatTransferId: `WX-${randomUUID()}` },
    });
    const byCounterparty = await api('POST', `/v1/trades/${first.trade.id}/disputes`, {
      token: first.counterparty.token,
      body: { reason: 'payment_not_released', statement: 'I sent the RMB an hour ago.' },
    });
    expect(byCounterparty.status).toBe(201);
    expect(byCounterparty.body.openedBy).toEqual({ kind: 'counterparty', id: first.counterparty.id });
    // The verify deadline passing changes nothing while the dispute is open: the job ends without a second dispute.
    await db.query(`UPDATE trades SET verify_by = now() - interval '1 second' WHERE id = $1`, [first.trade.id]);
    const verification = test.app.get(QueueRegistry).get(QUEUES.verification);
    expect(await completedJobResult(verification, `verify-${first.trade.id}`)).toEqual({ outcome: 'nothing' });
    expect(await state(first.trade.id)).toBe('disputed');
    const disputesOfFirst = await db.query(`SELECT id FROM disputes WHERE trade_id = $1`, [first.trade.id]);
    expect(disputesOfFirst.rows).toEqual([{ id: byCounterparty.body.id }]);

    const second = await fundedTrade();
    await api('POST', `/v1/trades/${second.trade.id}/payout`, {
      token: second.counterparty.token,
      body: { wechatTransferId: `WX-${randomUUID()}` },
    });
    const finding = 'WeChat transfer found for 950.00 CNY, the trade is 1000.00 CNY';
    const bySystem = await test.app
      .get(DataSource)
      .transaction((manager) => test.app.get(DisputesService).openBySystem(manager, second.trade.id, finding));
    const seen = await api('GET', `/v1/disputes/${bySystem.id}`, { token: second.traveler.token });
    expect(seen.body).toMatchObject({
      reason: 'verification_failed',
      openedBy: { kind: 'system', id: null },
      statements: [{ author: { kind: 'system', id: null }, text: finding }],
    });
    const events = (await api('GET', `/v1/trades/${second.trade.id}/events`, { token: second.counterparty.token })).body.data;
    expect(events.find((e: { toState: string }) => e.toState === 'disputed')).toMatchObject({
      actor: { kind: 'system', id: null },
      detail: { reason: 'verification_failed', disputeId: bySystem.id },
    });
    expect(events.find((e: { type: string }) => e.type === 'dispute_statement').detail).toMatchObject({ finding });
    // A party cannot claim the system's reason.
    const third = await fundedTrade();
    const claimed = await api('POST', `/v1/trades/${third.trade.id}/disputes`, {
      token: third.traveler.token,
      body: { reason: 'verification_failed', statement: 'x' },
    });
    expect(claimed.status).toBe(400);
    expect(claimed.body.errors).toEqual([expect.objectContaining({ field: 'reason', code: 'not_allowed' })]);
    expect(await state(third.trade.id)).toBe('funded');
  });

  it('refuses a dispute on a trade still awaiting funding: nothing is in escrow to decide on', async () => {
    const { traveler, counterparty, trade } = await newTrade();
    for (const party of [traveler, counterparty]) {
      const refused = await api('POST', `/v1/trades/${trade.id}/disputes`, {
        token: party.token,
        body: { reason: 'other', statement: 'Too early.' },
      });
      expect([refused.status, refused.body.code]).toEqual([409, 'invalid_state_transition']);
      expect(refused.body.detail).toContain('awaiting_funding');
    }
    const after = (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body;
    expect(after).toMatchObject({ state: 'awaiting_funding', disputeId: null });
    expect((await db.query(`SELECT count(*)::int AS n FROM disputes WHERE trade_id = $1`, [trade.id])).rows[0].n).toBe(0);
  });

  it('takes statements and evidence from both sides, within limits, and never shows payment handles', async () => {
    const { traveler, counterparty, trade, dispute, handles } = await disputedTrade();
    const attachment = { name: 'receipt.png', contentType: 'image/png', sizeBytes: 48213, sha256: 'a'.repeat(64) };
    const fromCounterparty = await api('POST', `/v1/disputes/${dispute.id}/statements`, {
      token: counterparty.token,
      body: { text: 'Here is my transfer receipt.', attachments: [attachment] },
    });
    expect(fromCounterparty.status).toBe(201);
    expect(fromCounterparty.body).toMatchObject({ author: { kind: 'counterparty', id: counterparty.id }, attachments: [attachment] });
    expect(
      (await api('POST', `/v1/disputes/${dispute.id}/statements`, { token: traveler.token, body: { text: 'It never came.' } })).status,
    ).toBe(201);

    const refusals: [Record<string, unknown>, string, string][] = [
      [{ text: 'x'.repeat(5001) }, 'text', 'too_long'],
      [{ text: '' }, 'text', 'too_short'],
      [{ text: 'ok', attachments: Array.from({ length: 11 }, () => attachment) }, 'attachments', 'array_max_size'],
      [{ text: 'ok', attachments: [{ ...attachment, sizeBytes: 26 * 1024 * 1024 }] }, 'attachments.0.sizeBytes', 'too_large'],
      [
        { text: 'ok', attachments: [{ ...attachment, contentType: 'application/x-msdownload' }] },
        'attachments.0.contentType',
        'not_allowed',
      ],
      [{ text: 'ok', attachments: [{ ...attachment, sha256: 'not-a-hash' }] }, 'attachments.0.sha256', 'invalid_format'],
      [{ text: 'ok', attachments: [{ ...attachment, url: 'http://x' }] }, 'attachments.0.url', 'unknown_field'],
    ];
    for (const [body, field, code] of refusals) {
      const refused = await api('POST', `/v1/disputes/${dispute.id}/statements`, { token: traveler.token, body });
      expect(refused.status).toBe(400);
      expect(refused.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field, code })]));
    }

    const seen = await api('GET', `/v1/disputes/${dispute.id}`, { token: traveler.token });
    expect(seen.body.statements.map((s: { text: string }) => s.text)).toEqual([
      'Nothing arrived in my WeChat wallet.',
      'Here is my transfer receipt.',
      'It never came.',
    ]);
    // Nobody sees the other party's payment handles, in the dispute or the timeline (API.md); operators neither,
    // since theirs is an explicit, audited reveal and these views are not one.
    const travelerHandles = [handles.travelerWechat, handles.travelerPaypal];
    const counterpartyHandles = [handles.counterpartyWechat, handles.payoutEmail];
    const viewers: [string, string, string[]][] = [
      ['traveler', traveler.token, counterpartyHandles],
      ['counterparty', counterparty.token, travelerHandles],
      ['operator', operator.token, [...travelerHandles, ...counterpartyHandles]],
    ];
    for (const [who, token, foreign] of viewers) {
      for (const path of [`/v1/disputes/${dispute.id}`, `/v1/trades/${trade.id}/events?limit=100`]) {
        const view = await api('GET', path, { token });
        expect(view.status).toBe(200);
        const leaked = foreign.filter((handle) => view.text.toLowerCase().includes(handle.toLowerCase()));
        expect({ who, path, leaked }).toEqual({ who, path, leaked: [] });
      }
    }

    // At most 50 statements per party (the counterparty has 1): the 51st is refused with its own code.
    for (let i = 0; i < 49; i += 1) {
      const added = await api('POST', `/v1/disputes/${dispute.id}/statements`, { token: counterparty.token, body: { text: `note ${i}` } });
      expect(added.status).toBe(201);
    }
    const tooMany = await api('POST', `/v1/disputes/${dispute.id}/statements`, { token: counterparty.token, body: { text: 'one more' } });
    expect(tooMany.status).toBe(409);
    expect(tooMany.body.code).toBe('too_many_statements');
  });

  it('answers every dispute and admin endpoint by role, with the code API.md names, a suspended party included', async () => {
    const { traveler, counterparty, trade, dispute } = await disputedTrade();
    const outsider = await registerUser(api, 'traveler', 'outsider');
    const suspended = await registerUser(api, 'counterparty', 'suspended');
    const target = await registerUser(api, 'traveler', 'target');
    expect((await api('POST', `/v1/admin/users/${suspended.id}/suspend`, { token: operator.token })).status).toBe(200);
    // The counterparty's own column is asked first; then it is suspended and asked again as `suspendedParty`.
    const callers: [string, string | undefined][] = [
      ['anonymous', undefined],
      ['traveler', traveler.token],
      ['counterparty', counterparty.token],
      ['nonParty', outsider.token],
      ['suspended', suspended.token],
      ['operator', operator.token],
      ['suspendedParty', counterparty.token],
    ];
    const [U, F, N, OK] = ['401 unauthenticated', '403 forbidden', '404 not_found', '200'];
    const disputedAlready = '409 invalid_state_transition';
    // Operators only: every non-operator gets `forbidden` (the role is checked before suspension).
    const operatorOnly = (operatorCell: string) => ({
      anonymous: U,
      traveler: F,
      counterparty: F,
      nonParty: F,
      suspended: F,
      operator: operatorCell,
      suspendedParty: F,
    });
    // A split that does not add up: the operator's call is refused as a client error and changes nothing.
    const badSplit = { outcome: 'split', travelerUsd: '1.00', counterpartyUsd: '1.00', note: 'probe' };
    // Suspended users may still see and argue their live trades' disputes (SPEC.md): a suspended party is
    // answered like a party, never `account_suspended`; a suspended non-party is a non-party (404).
    const table: [string, string, unknown, Record<string, string>][] = [
      [
        'GET',
        `/v1/trades/${trade.id}`,
        undefined,
        { anonymous: U, traveler: OK, counterparty: OK, nonParty: N, suspended: N, operator: OK, suspendedParty: OK },
      ],
      [
        'GET',
        `/v1/disputes/${dispute.id}`,
        undefined,
        { anonymous: U, traveler: OK, counterparty: OK, nonParty: N, suspended: N, operator: OK, suspendedParty: OK },
      ],
      [
        'POST',
        `/v1/disputes/${dispute.id}/statements`,
        { text: 'probe' },
        { anonymous: U, traveler: '201', counterparty: '201', nonParty: N, suspended: N, operator: F, suspendedParty: '201' },
      ],
      [
        'POST',
        `/v1/trades/${trade.id}/disputes`,
        { reason: 'other', statement: 'probe' },
        {
          anonymous: U,
          traveler: disputedAlready,
          counterparty: disputedAlready,
          nonParty: N,
          suspended: N,
          operator: F,
          suspendedParty: disputedAlready,
        },
      ],
      ['GET', '/v1/admin/disputes', undefined, operatorOnly(OK)],
      ['POST', `/v1/admin/disputes/${dispute.id}/resolve`, badSplit, operatorOnly('400 split_mismatch')],
      ['POST', `/v1/admin/disputes/${dispute.id}/assign`, {}, operatorOnly(OK)],
      ['GET', '/v1/admin/trades?state=disputed', undefined, operatorOnly(OK)],
      ['POST', `/v1/admin/trades/${trade.id}/retry-settlement`, undefined, operatorOnly('409 invalid_state_transition')],
      ['GET', `/v1/admin/users/${traveler.id}`, undefined, operatorOnly(OK)],
      ['PUT', `/v1/admin/users/${traveler.id}/tier`, { tier: 9 }, operatorOnly('400 validation_failed')],
      ['POST', `/v1/admin/users/${target.id}/suspend`, undefined, operatorOnly(OK)],
      ['POST', `/v1/admin/users/${target.id}/unsuspend`, undefined, operatorOnly(OK)],
      ['GET', `/v1/admin/audit?tradeId=${trade.id}`, undefined, operatorOnly(OK)],
      ['GET', '/v1/admin/ledger/check', undefined, operatorOnly(OK)],
      ['GET', '/admin/queues', undefined, operatorOnly(OK)],
    ];
    const got: Record<string, Record<string, string>> = {};
    const wanted: Record<string, Record<string, string>> = {};
    const keyOf = (method: string, path: string) => `${method} ${path.replace(/[0-9a-f-]{36}/g, ':id')}`;
    for (const [method, path, , expected] of table) wanted[keyOf(method, path)] = expected;
    for (const [who, token] of callers) {
      if (who === 'suspendedParty') {
        expect((await api('POST', `/v1/admin/users/${counterparty.id}/suspend`, { token: operator.token })).status).toBe(200);
      }
      for (const [method, path, body] of table) {
        const response = await api(method, path, { token, body });
        const code = response.status >= 400 ? response.body?.code : undefined;
        (got[keyOf(method, path)] ??= {})[who] = code ? `${response.status} ${code}` : String(response.status);
      }
    }
    expect(got).toEqual(wanted);
    expect(await state(trade.id)).toBe('disputed');
  });

  it('filters the operators’ trade list by state', async () => {
    const disputed = await disputedTrade();
    const funded = await fundedTrade();
    const listed = async (wanted: string) => {
      const page = await api('GET', `/v1/admin/trades?state=${wanted}&limit=100`, { token: operator.token });
      expect(page.status).toBe(200);
      return page.body.data as { id: string; state: string }[];
    };
    for (const [wanted, member, other] of [
      ['disputed', disputed.trade.id, funded.trade.id],
      ['funded', funded.trade.id, disputed.trade.id],
    ]) {
      const trades = await listed(wanted);
      expect(trades.filter((t) => t.state !== wanted)).toEqual([]);
      expect(trades.map((t) => t.id)).toContain(member);
      expect(trades.map((t) => t.id)).not.toContain(other);
    }
    // A state that neither trade is in lists neither.
    const completed = (await listed('completed')).map((t) => t.id);
    expect(completed).not.toContain(disputed.trade.id);
    expect(completed).not.toContain(funded.trade.id);
  });

  it('lets a suspended party still open a dispute and add statements to it', async () => {
    const { traveler, trade } = await fundedTrade();
    expect((await api('POST', `/v1/admin/users/${traveler.id}/suspend`, { token: operator.token })).status).toBe(200);
    const opened = await api('POST', `/v1/trades/${trade.id}/disputes`, {
      token: traveler.token,
      body: { reason: 'other', statement: 'Nothing yet.' },
    });
    expect(opened.status).toBe(201);
    const added = await api('POST', `/v1/disputes/${opened.body.id}/statements`, {
      token: traveler.token,
      body: { text: 'Still waiting.' },
    });
    expect(added.status).toBe(201);
    // Suspension still stops what is not about a live trade.
    expect((await api('POST', '/v1/me/api-keys', { token: traveler.token, body: { name: 'bot' } })).body.code).toBe('account_suspended');
  });

  it('lists the queue oldest first with a trade summary and age, filtered by status', async () => {
    const a = await disputedTrade();
    const b = await disputedTrade();
    // a was opened 90 seconds ago: its age is counted from then, in whole seconds.
    await db.query(`UPDATE disputes SET created_at = created_at - interval '90 seconds' WHERE id = $1`, [a.dispute.id]);
    const askedAt = Date.now();
    const open = await api('GET', '/v1/admin/disputes?status=open&limit=100', { token: operator.token });
    const answeredAt = Date.now();
    const ids = open.body.data.map((d: { id: string }) => d.id);
    expect(ids.indexOf(a.dispute.id)).toBeLessThan(ids.indexOf(b.dispute.id));
    for (const item of open.body.data as { createdAt: string; ageSeconds: number }[]) {
      expect(Number.isInteger(item.ageSeconds)).toBe(true);
      expect(item.ageSeconds).toBeGreaterThanOrEqual(Math.max(0, Math.floor((askedAt - Date.parse(item.createdAt)) / 1000)));
      expect(item.ageSeconds).toBeLessThanOrEqual(Math.ceil((answeredAt - Date.parse(item.createdAt)) / 1000));
    }
    const ageOf = (id: string) => open.body.data.find((d: { id: string }) => d.id === id).ageSeconds;
    expect(ageOf(a.dispute.id)).toBeGreaterThanOrEqual(90);
    expect(ageOf(a.dispute.id)).toBeLessThan(100);
    expect(ageOf(b.dispute.id)).toBeLessThan(10);
    expect(open.body.data.find((d: { id: string }) => d.id === a.dispute.id)).toMatchObject({
      status: 'open',
      trade: {
        id: a.trade.id,
        state: 'disputed',
        amountUsd: '138.12',
        amountCny: '1000.00',
        paymentMethod: 'paypal',
        travelerId: a.traveler.id,
      },
    });
    await api('POST', `/v1/admin/disputes/${a.dispute.id}/assign`, { token: operator.token, body: {} });
    const assigned = (await api('GET', '/v1/admin/disputes?status=assigned&limit=100', { token: operator.token })).body.data;
    expect(assigned.map((d: { id: string }) => d.id)).toContain(a.dispute.id);
    expect(assigned.map((d: { id: string }) => d.id)).not.toContain(b.dispute.id);
    // Walking the whole queue two at a time sees each dispute once, in order.
    const walked: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 200; i += 1) {
      const page: { body: { data: { id: string }[]; nextCursor: string | null } } = await api(
        'GET',
        `/v1/admin/disputes?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { token: operator.token },
      );
      walked.push(...page.body.data.map((d) => d.id));
      cursor = page.body.nextCursor;
      if (!cursor) break;
    }
    const everything = (await api('GET', '/v1/admin/disputes?limit=100', { token: operator.token })).body.data.map(
      (d: { id: string }) => d.id,
    );
    expect(walked).toEqual(everything);
    expect(new Set(walked).size).toBe(walked.length);
    expect((await api('GET', '/v1/admin/disputes?status=closed', { token: operator.token })).status).toBe(400);
  });

  it('resolves by release: the counterparty paid less the fee, the traveler’s lost dispute counted, books clean', async () => {
    const { traveler, counterparty, trade, dispute, payoutEmail } = await disputedTrade();
    const resolved = await api('POST', `/v1/admin/disputes/${dispute.id}/resolve`, {
      token: operator.token,
      body: { outcome: 'release', note: 'The WeChat receipt matches the trade.' },
    });
    expect(resolved.status).toBe(200);
    expect(resolved.body).toMatchObject({
      status: 'resolved',
      outcome: 'release',
      assignedTo: operator.id,
      resolutionNote: 'The WeChat receipt matches the trade.',
    });
    await eventually(async () => (await state(trade.id)) === 'completed', 15000);
    expect(await payoutOf(trade.id)).toEqual([{ receiver: payoutEmail, amountCents: '13674', status: 'SUCCESS' }]);
    expect(await escrowEntries(trade.id)).toEqual([
      { kind: 'counterparty_payable_cleared', phase: 'single', amount: '13674' },
      { kind: 'escrow_hold', phase: 'pending', amount: '13812' },
      { kind: 'escrow_hold_posted', phase: 'post', amount: '13812' },
      { kind: 'escrow_to_counterparty_payable', phase: 'single', amount: '13674' },
      { kind: 'escrow_to_fee_revenue', phase: 'single', amount: '138' },
    ]);
    const loser = (await api('GET', `/v1/admin/users/${traveler.id}`, { token: operator.token })).body;
    expect(loser.disputes).toEqual({ won: 0, lost: 1 });
    expect(loser.tradeCounts).toMatchObject({ completed: 1 });
    expect(loser.recentTrades[0]).toMatchObject({ id: trade.id, state: 'completed', role: 'traveler', amountUsd: '138.12' });
    expect((await api('GET', `/v1/users/${traveler.id}`, { token: counterparty.token })).body.reputation.disputesLost).toBe(1);
    expect((await api('GET', `/v1/admin/users/${counterparty.id}`, { token: operator.token })).body.disputes).toEqual({ won: 1, lost: 0 });
    // Resolved once: again is 409, and a statement now is refused.
    expect(
      (await api('POST', `/v1/admin/disputes/${dispute.id}/resolve`, { token: operator.token, body: { outcome: 'refund', note: 'x' } }))
        .status,
    ).toBe(409);
    // A split that does not add up is bad input first (400 before 409 in API.md's precedence), resolved or not.
    const badSplit = await api('POST', `/v1/admin/disputes/${dispute.id}/resolve`, {
      token: operator.token,
      body: { outcome: 'split', travelerUsd: '1.00', counterpartyUsd: '1.00', note: 'x' },
    });
    expect([badSplit.status, badSplit.body.code]).toEqual([400, 'split_mismatch']);
    const goodSplit = await api('POST', `/v1/admin/disputes/${dispute.id}/resolve`, {
      token: operator.token,
      body: { outcome: 'split', travelerUsd: '50.00', counterpartyUsd: '88.12', note: 'x' },
    });
    expect([goodSplit.status, goodSplit.body.code]).toEqual([409, 'invalid_state_transition']);
    expect((await api('POST', `/v1/disputes/${dispute.id}/statements`, { token: traveler.token, body: { text: 'late' } })).status).toBe(
      409,
    );
    await expectClean();
  });

  it('resolves by refund: the capture refunded whole, the counterparty’s lost dispute counted', async () => {
    const { counterparty, trade, dispute, orderId } = await disputedTrade();
    await eventually(async () => (await authorizationOf(orderId)) === 'CAPTURED');
    const resolved = await api('POST', `/v1/admin/disputes/${dispute.id}/resolve`, {
      token: operator.token,
      body: { outcome: 'refund', note: 'No transfer was shown.' },
    });
    expect(resolved.status).toBe(200);
    await eventually(async () => (await state(trade.id)) === 'refunded', 15000);
    expect(await refundsOf(orderId)).toEqual([{ amountCents: '13812' }]);
    expect(await escrowEntries(trade.id)).toEqual([
      { kind: 'escrow_hold', phase: 'pending', amount: '13812' },
      { kind: 'escrow_hold_voided', phase: 'void', amount: '0' },
    ]);
    expect((await api('GET', `/v1/admin/users/${counterparty.id}`, { token: operator.token })).body.disputes).toEqual({ won: 0, lost: 1 });
    await expectClean();
  });

  it('resolves by split to the cent: the traveler’s part refunded, the counterparty’s paid less its fee, nobody’s loss', async () => {
    const { traveler, counterparty, trade, dispute, orderId, payoutEmail } = await disputedTrade();
    const amountsWithRelease = await api('POST', `/v1/admin/disputes/${dispute.id}/resolve`, {
      token: operator.token,
      body: { outcome: 'release', travelerUsd: '1.00', note: 'x' },
    });
    expect(amountsWithRelease.status).toBe(400);
    const mismatch = await api('POST', `/v1/admin/disputes/${dispute.id}/resolve`, {
      token: operator.token,
      body: { outcome: 'split', travelerUsd: '50.00', counterpartyUsd: '88.11', note: 'x' },
    });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.code).toBe('split_mismatch');
    const zero = await api('POST', `/v1/admin/disputes/${dispute.id}/resolve`, {
      token: operator.token,
      body: { outcome: 'split', travelerUsd: '0.00', counterpartyUsd: '138.12', note: 'x' },
    });
    expect(zero.status).toBe(400);
    expect(await state(trade.id)).toBe('disputed');

    const resolved = await api('POST', `/v1/admin/disputes/${dispute.id}/resolve`, {
      token: operator.token,
      body: { outcome: 'split', travelerUsd: '49.62', counterpartyUsd: '88.50', note: 'Part of the RMB arrived.' },
    });
    expect(resolved.body).toMatchObject({ status: 'resolved', outcome: 'split', travelerUsd: '49.62', counterpartyUsd: '88.50' });
    await eventually(async () => (await state(trade.id)) === 'settled_split', 15000);
    expect(await refundsOf(orderId)).toEqual([{ amountCents: '4962' }]);
    // $88.50 to the counterparty: 1% is $0.885, half-up $0.89.
    expect(await payoutOf(trade.id)).toEqual([{ receiver: payoutEmail, amountCents: '8761', status: 'SUCCESS' }]);
    expect((await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body).toMatchObject({ feeUsd: '0.89', netUsd: '87.61' });
    for (const party of [traveler, counterparty]) {
      expect((await api('GET', `/v1/admin/users/${party.id}`, { token: operator.token })).body.disputes).toEqual({ won: 0, lost: 0 });
    }
    const entries = await db.query(
      `SELECT kind, phase, amount FROM ledger_transfers WHERE trade_id = $1 AND kind LIKE 'escrow%' ORDER BY kind`,
      [trade.id],
    );
    expect(entries.rows).toEqual([
      { kind: 'escrow_hold', phase: 'pending', amount: '13812' },
      { kind: 'escrow_hold_posted', phase: 'post', amount: '8850' },
      { kind: 'escrow_to_counterparty_payable', phase: 'single', amount: '8761' },
      { kind: 'escrow_to_fee_revenue', phase: 'single', amount: '89' },
    ]);
    await expectClean();
  });

  it('lets one of two operators resolving at once win; the other gets 409 and changes nothing', async () => {
    const { trade, dispute } = await disputedTrade();
    const [a, b] = await Promise.all([
      api('POST', `/v1/admin/disputes/${dispute.id}/resolve`, { token: operator.token, body: { outcome: 'release', note: 'A' } }),
      api('POST', `/v1/admin/disputes/${dispute.id}/resolve`, { token: otherOperator.token, body: { outcome: 'refund', note: 'B' } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const winner = a.status === 200 ? 'release' : 'refund';
    await eventually(async () => (await state(trade.id)) === (winner === 'release' ? 'completed' : 'refunded'), 15000);
    const events = (await api('GET', `/v1/trades/${trade.id}/events`, { token: operator.token })).body.data;
    expect(events.filter((e: { fromState: string }) => e.fromState === 'disputed')).toHaveLength(1);
    const audit = (await api('GET', `/v1/admin/audit?tradeId=${trade.id}`, { token: operator.token })).body.data;
    expect(audit.filter((e: { action: string }) => e.action === 'dispute.resolve')).toHaveLength(1);
    await expectClean();
  });

  it('takes a dispute over only with force, audited; the holder can no longer resolve it', async () => {
    const { trade, dispute } = await disputedTrade();
    expect((await api('POST', `/v1/admin/disputes/${dispute.id}/assign`, { token: operator.token, body: {} })).body).toMatchObject({
      status: 'assigned',
      assignedTo: operator.id,
    });
    const refused = await api('POST', `/v1/admin/disputes/${dispute.id}/assign`, { token: otherOperator.token, body: {} });
    expect(refused.status).toBe(409);
    const resolve = (by: TestUser, outcome: string, note: string) =>
      api('POST', `/v1/admin/disputes/${dispute.id}/resolve`, { token: by.token, body: { outcome, note } });
    const resolveByOther = await resolve(otherOperator, 'refund', 'not mine');
    expect(resolveByOther.status).toBe(409);
    const takeover = await api('POST', `/v1/admin/disputes/${dispute.id}/assign`, { token: otherOperator.token, body: { force: true } });
    expect(takeover.body.assignedTo).toBe(otherOperator.id);
    expect((await resolve(operator, 'release', 'mine?')).status).toBe(409);
    expect((await resolve(otherOperator, 'refund', 'Taken over; refunded.')).status).toBe(200);
    await eventually(async () => (await state(trade.id)) === 'refunded', 15000);

    // The audit trail and the trade's timeline list every operator action, with who and the note.
    const audit = (await api('GET', `/v1/admin/audit?tradeId=${trade.id}`, { token: operator.token })).body.data;
    expect(audit.map((e: { action: string; operatorId: string }) => [e.action, e.operatorId])).toEqual([
      ['dispute.assign', operator.id],
      ['dispute.takeover', otherOperator.id],
      ['dispute.resolve', otherOperator.id],
    ]);
    expect(audit[1].detail).toEqual({ previousOperatorId: operator.id });
    expect(audit[2].detail).toMatchObject({ outcome: 'refund', note: 'Taken over; refunded.' });
    const notes = (await api('GET', `/v1/trades/${trade.id}/events`, { token: operator.token })).body.data.filter(
      (e: { type: string }) => e.type === 'operator_note',
    );
    expect(notes.map((e: { detail: { action: string } }) => e.detail.action)).toEqual([
      'dispute.assign',
      'dispute.takeover',
      'dispute.resolve',
    ]);
    await expectClean();
  });

  it('settles a dispute opened after the honour period ran out: the capture made then is refunded', async () => {
    const { traveler, trade, orderId } = await fundedTrade();
    const settlement = test.app.get(QueueRegistry).get(QUEUES.settlement);
    // The (shortened) honour period runs out on its own: the held authorization is captured at four fifths of it.
    expect(await completedJobResult(settlement, `honor-capture-${trade.id}`)).toEqual({ outcome: 'captured' });
    expect(await authorizationOf(orderId)).toBe('CAPTURED');
    const opened = await api('POST', `/v1/trades/${trade.id}/disputes`, {
      token: traveler.token,
      body: { reason: 'other', statement: 'Slow.' },
    });
    expect(await completedJobResult(settlement, `dispute-capture-${trade.id}`)).toEqual({ outcome: 'nothing' });
    await api('POST', `/v1/admin/disputes/${opened.body.id}/resolve`, {
      token: operator.token,
      body: { outcome: 'refund', note: 'Refund.' },
    });
    await eventually(async () => (await state(trade.id)) === 'refunded', 15000);
    expect(await refundsOf(orderId)).toEqual([{ amountCents: '13812' }]);
    expect((await paypalOrder(api, orderId)).captures).toHaveLength(1);
    await expectClean();
  });

  it("keeps every party's live-trade counter equal to a count of their live trades", async () => {
    const trades = await db.query(`SELECT count(*)::int AS n FROM trades`);
    expect(trades.rows[0].n).toBeGreaterThan(0);
    expect(await liveCounterMismatches(db)).toEqual([]);
  });
});
