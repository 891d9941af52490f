import { TestUser } from './support/factories';
import { ApiResponse } from './support/http';
import { liveCounterMismatches } from './support/invariants';
import { fixed, readyCounterparty, readyTraveler } from './support/market';
import { eventually } from './support/test-app';
import { cappedPolls, fastBank, quietRates } from './support/settings';
import { useTestApp } from './support/use-test-app';

/** What each call may answer under any race: its success, or a documented 409. */
const ALLOWED: Record<string, { ok: number; codes: string[] }> = {
  accept: { ok: 201, codes: ['insufficient_amount', 'invalid_state_transition', 'open_trades_limit', 'daily_limit_exceeded'] },
  take: { ok: 201, codes: ['insufficient_amount', 'invalid_state_transition', 'open_trades_limit', 'daily_limit_exceeded'] },
  cancel: { ok: 200, codes: ['invalid_state_transition'] },
  resolve: { ok: 200, codes: [] },
};

/**
 * Every path that ends a trade (a party's cancel, the funding window's expiry, a refund completed by its
 * payout window or by an operator's decision) runs at once with accepts and takes on the same request, the
 * same offer and the same people, through HTTP with real workers. With one lock order for the whole service
 * none of them can wait on another in a cycle: no 500, no deadlock in the log, and the books and the
 * market's amounts agree afterwards.
 */
describe('One lock order: ending trades races accepts and takes (HTTP)', () => {
  const { test, api, db, operator } = useTestApp(
    {
      ...quietRates,
      ...cappedPolls,
      ...fastBank,
      // The limits stay out of the way: one traveler holds every trade of the request.
      TIER0_OPEN_TRADES: '100000',
      TIER0_DAILY_USD: '10000000',
      // PayPal trades expire while the race runs; bank trades wait until cancelled or funded.
      FUNDING_WINDOW_PAYPAL_MS: '1500',
      FUNDING_WINDOW_BANK_MS: '3600000',
      PAYOUT_WINDOW_MS: '3600000',
      DEADLINE_SWEEP_EVERY_MS: '300',
      PROVIDER_POLL_EVERY_MS: '200',
      PROVIDER_WORK_SWEEP_EVERY_MS: '500',
      OUTBOX_POLL_INTERVAL_MS: '50',
    },
    { reference: '7.2400', operator: true },
  );
  const answers: { call: string; status: number; code?: string }[] = [];

  /** Calls and records the answer; the race is judged on all of them at the end. */
  async function call(name: keyof typeof ALLOWED, method: string, path: string, token: string, body?: unknown): Promise<ApiResponse> {
    const response = await api(method, path, { token, body: body ?? {} });
    answers.push({ call: name, status: response.status, code: response.body?.code });
    return response;
  }
  const accept = (requestId: string, who: TestUser, amountCny: string) =>
    call('accept', 'POST', `/v1/requests/${requestId}/accept`, who.token, { amountCny });
  const take = (offerId: string, who: TestUser, amountCny: string, paymentMethod: string) =>
    call('take', 'POST', `/v1/offers/${offerId}/take`, who.token, { amountCny, paymentMethod });
  const cancel = (tradeId: string, who: TestUser) => call('cancel', 'POST', `/v1/trades/${tradeId}/cancel`, who.token);
  const state = async (tradeId: string) => (await db.query(`SELECT state FROM trades WHERE id = $1`, [tradeId])).rows[0].state as string;
  /** True when every one of the trades is in the state. */
  const allIn = async (ids: string[], wanted: string) =>
    (await db.query(`SELECT count(*)::int AS n FROM trades WHERE id = ANY($1::uuid[]) AND state <> $2`, [ids, wanted])).rows[0].n === 0;

  /** Funds a bank trade through the bank mock (its callback confirms it) and waits for `funded`. */
  async function fund(tradeId: string, traveler: TestUser): Promise<void> {
    const funding = await api('POST', `/v1/trades/${tradeId}/funding`, { token: traveler.token, body: {} });
    expect(funding.status).toBe(201);
    const sent = await api('POST', '/sandbox/bank/incoming', {
      body: { reference: funding.body.reference, amountUsd: funding.body.amountUsd, senderAccount: 'DE89370400440532013000' },
    });
    expect(sent.status).toBe(202);
    await eventually(async () => (await state(tradeId)) === 'funded', 15000);
  }

  /** A funded trade with a dispute open, for the operator to refund during the race. */
  async function disputed(tradeId: string, traveler: TestUser): Promise<string> {
    await fund(tradeId, traveler);
    const opened = await api('POST', `/v1/trades/${tradeId}/disputes`, {
      token: traveler.token,
      body: { reason: 'rmb_not_received', statement: 'Nothing arrived.' },
    });
    expect(opened.status).toBe(201);
    return opened.body.id;
  }

  it('cancels, expiries and refunds race accepts and takes on one request and one offer: no 5xx, no deadlock, the books agree', async () => {
    const traveler = await readyTraveler(api, 'maker');
    const counterparties = await Promise.all(Array.from({ length: 10 }, (_, i) => readyCounterparty(api, `cp${i}`)));
    const offerMaker = await readyCounterparty(api, 'offer-maker');
    const travelers = await Promise.all(Array.from({ length: 10 }, (_, i) => readyTraveler(api, `tr${i}`)));

    const request = await api('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny: '200000.00', minFillCny: '100.00', price: fixed('7.2400'), paymentMethod: 'bank_transfer' },
    });
    expect(request.status).toBe(201);
    const offer = await api('POST', '/v1/offers', {
      token: offerMaker.token,
      body: {
        minCny: '100.00',
        maxCny: '1000.00',
        totalCny: '200000.00',
        price: fixed('7.2400'),
        paymentMethods: ['paypal', 'bank_transfer'],
      },
    });
    expect(offer.status).toBe(201);
    const requestId: string = request.body.id;
    const offerId: string = offer.body.id;

    // Ten trades on each source awaiting funding, to be cancelled in the race.
    const onRequest: string[] = [];
    for (const cp of counterparties) onRequest.push((await accept(requestId, cp, '500.00')).body.id);
    const onOffer: string[] = [];
    for (const tr of travelers) onOffer.push((await take(offerId, tr, '500.00', 'bank_transfer')).body.id);
    // Funded trades on both sources, to be refunded in the race: by the payout window, or by an operator.
    const byWindow = [
      (await accept(requestId, counterparties[0], '300.00')).body.id,
      (await take(offerId, travelers[0], '300.00', 'bank_transfer')).body.id,
    ];
    const byOperator = [
      (await accept(requestId, counterparties[1], '300.00')).body.id,
      (await take(offerId, travelers[1], '300.00', 'bank_transfer')).body.id,
    ];
    await fund(byWindow[0], traveler);
    await fund(byWindow[1], travelers[0]);
    const disputes = [await disputed(byOperator[0], traveler), await disputed(byOperator[1], travelers[1])];
    expect(answers.every((a) => a.status === ALLOWED[a.call].ok)).toBe(true);

    const expiring: string[] = [];
    const refunds = [...byWindow, ...byOperator];
    const started = Date.now();
    let refundsDone = false;
    /** Accept-and-cancel and take-and-cancel by the same people, and PayPal takes left to expire, until the refunds are done. */
    const churn = async (i: number) => {
      for (let round = 0; Date.now() - started < 20000; round += 1) {
        if (refundsDone && Date.now() - started > 4000) return;
        const cp = counterparties[(i + round) % counterparties.length];
        const tr = travelers[(i + round) % travelers.length];
        const [accepted, taken, paypal] = await Promise.all([
          accept(requestId, cp, '100.00'),
          take(offerId, tr, '100.00', 'bank_transfer'),
          take(offerId, travelers[(i + round + 5) % travelers.length], '100.00', 'paypal'),
        ]);
        if (paypal.status === 201) expiring.push(paypal.body.id);
        await Promise.all([
          accepted.status === 201 ? cancel(accepted.body.id, round % 2 ? traveler : cp) : undefined,
          taken.status === 201 ? cancel(taken.body.id, round % 2 ? offerMaker : tr) : undefined,
        ]);
      }
    };

    // The payout window of two funded trades passes now: the deadline sweeper applies it during the race.
    await db.query(`UPDATE trades SET payout_by = now() WHERE id = ANY($1::uuid[])`, [byWindow]);
    await Promise.all([
      // Ten cancels and ten accepts on one request, and the same on one offer, at once.
      ...onRequest.map((id, i) => cancel(id, i % 2 ? traveler : counterparties[i])),
      ...counterparties.map((cp) => accept(requestId, cp, '500.00')),
      ...onOffer.map((id, i) => cancel(id, i % 2 ? offerMaker : travelers[i])),
      ...travelers.map((tr) => take(offerId, tr, '500.00', 'bank_transfer')),
      // An operator refunds two more.
      ...disputes.map((id) =>
        call('resolve', 'POST', `/v1/admin/disputes/${id}/resolve`, operator.token, { outcome: 'refund', note: 'No RMB.' }),
      ),
      ...[0, 1, 2, 3].map(churn),
      eventually(() => allIn(refunds, 'refunded'), 20000, 200).then(
        () => (refundsDone = true),
        () => (refundsDone = true),
      ),
    ]);

    const unexpected = answers.filter(
      (a) => a.status !== ALLOWED[a.call].ok && !(a.status === 409 && ALLOWED[a.call].codes.includes(a.code!)),
    );
    expect(unexpected).toEqual([]);

    // Every refund completed and every PayPal trade expired: nothing was left half done by a rolled-back worker.
    await eventually(() => allIn(refunds, 'refunded'), 30000, 200);
    await eventually(() => allIn(expiring, 'expired'), 30000, 200);
    expect(expiring.length).toBeGreaterThan(0);

    expect(test.readLog()).not.toMatch(/deadlock detected/i);

    const check = await api('GET', '/v1/admin/ledger/check', { token: operator.token });
    expect(check.status).toBe(200);
    expect(check.body).toEqual({ ok: true, violations: [] });
    // What each source still offers is its amount less the trades that hold part of it.
    const held = (column: string, id: string) =>
      db.query(
        `SELECT coalesce(sum(amount_cny), 0)::text AS held FROM trades
          WHERE ${column} = $1 AND state NOT IN ('cancelled', 'expired', 'refunded')`,
        [id],
      );
    const requestRow = (await db.query(`SELECT amount_cny::text, remaining_cny::text FROM exchange_requests WHERE id = $1`, [requestId]))
      .rows[0];
    expect(BigInt(requestRow.amount_cny) - BigInt(requestRow.remaining_cny)).toBe(
      BigInt((await held('request_id', requestId)).rows[0].held),
    );
    const offerRow = (await db.query(`SELECT total_cny::text, available_cny::text FROM offers WHERE id = $1`, [offerId])).rows[0];
    expect(BigInt(offerRow.total_cny) - BigInt(offerRow.available_cny)).toBe(BigInt((await held('offer_id', offerId)).rows[0].held));
    expect(await liveCounterMismatches(db)).toEqual([]);
  }, 180000);
});
