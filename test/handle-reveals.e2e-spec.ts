import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import { FieldEncryption } from '../src/common/crypto/field-encryption';
import { tradesConfig } from '../src/config';
import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { TradeTransitionsService as TradesService } from '../src/trades/trade-transitions.service';
import { createOperator, registerUser, TestUser } from './support/factories';
import { Api } from './support/http';
import { fixed, wechatId, withWallet } from './support/market';
import { completedJobResult, TestApp } from './support/test-app';
import { quietRates, distantDeadlines } from './support/settings';
import { useTestApp } from './support/use-test-app';
import { FUNDED, RELEASED } from './support/trades';

/**
 * Payment handles are shown only where API.md allows, every showing is recorded, and they are not kept longer than
 * needed: the counterparty's reads of a funded trade, an operator's audited reveal, idempotent replays, and the
 * erasure of ended trades' snapshots after HANDLE_RETENTION_MS (its default, 30 days, here).
 */
describe('payment handle reveals and retention', () => {
  const suite = useTestApp(
    {
      ...quietRates,
      ...distantDeadlines,
      FUNDING_WINDOW_BANK_MS: '3600000',
      VERIFY_TIMEOUT_MS: '3600000',
      // The periodic sweep stays out of the way: the tests run the job when they mean to.
      HANDLE_RETENTION_SWEEP_EVERY_MS: '3600000',
    },
    { reference: '7.2400' },
  );
  let test: TestApp, api: Api, db: Client;
  let trades: TradesService;
  let dataSource: DataSource;
  let operator: TestUser;

  beforeAll(async () => {
    ({ test, api, db } = suite);
    trades = test.app.get(TradesService);
    dataSource = test.app.get(DataSource);
    operator = await createOperator(test, api);
  });

  interface Parties {
    traveler: TestUser;
    counterparty: TestUser;
    travelerWallet: string;
    counterpartyWallet: string;
    payoutEmail: string;
  }

  /** Two parties whose handles the test knows. */
  async function parties(): Promise<Parties> {
    const travelerWallet = wechatId();
    const counterpartyWallet = wechatId();
    const payoutEmail = `payout-${randomUUID().slice(0, 8)}@example.com`;
    const traveler = await withWallet(api, await registerUser(api, 'traveler'), travelerWallet);
    const counterparty = await withWallet(api, await registerUser(api, 'counterparty'), counterpartyWallet);
    const payout = await api('PUT', '/v1/me/payout-account', {
      token: counterparty.token,
      body: { method: 'paypal', paypalEmail: payoutEmail },
    });
    expect(payout.status).toBe(200);
    return { traveler, counterparty, travelerWallet, counterpartyWallet, payoutEmail };
  }

  async function newTrade(p?: Parties): Promise<Parties & { tradeId: string }> {
    p ??= await parties();
    const request = await api('POST', '/v1/requests', {
      token: p.traveler.token,
      body: { amountCny: '100.00', price: fixed('7.2400'), paymentMethod: 'bank_transfer' },
    });
    const trade = await api('POST', `/v1/requests/${request.body.id}/accept`, { token: p.counterparty.token, body: {} });
    expect(trade.status).toBe(201);
    expect(trade.body).not.toHaveProperty('travelerWechatId');
    return { ...p, tradeId: trade.body.id };
  }

  const inTransaction = <T>(work: (manager: EntityManager) => Promise<T>) => dataSource.transaction(work);
  const fund = (tradeId: string) => inTransaction((m) => trades.confirmFunding(m, tradeId, FUNDED));
  /** Funded, released by the traveler's confirmation, and the payout confirmed (as settlement would). */
  async function complete(t: Parties & { tradeId: string }) {
    await fund(t.tradeId);
    expect((await api('POST', `/v1/trades/${t.tradeId}/confirm-receipt`, { token: t.traveler.token })).status).toBe(200);
    await inTransaction((m) => trades.completeRelease(m, t.tradeId, RELEASED));
  }
  const timeline = async (tradeId: string, token = operator.token) =>
    (await api('GET', `/v1/trades/${tradeId}/events?limit=100`, { token })).body.data as {
      type: string;
      actor: { kind: string; id: string | null };
      detail: Record<string, unknown>;
    }[];
  const reveals = async (tradeId: string) => (await timeline(tradeId)).filter((e) => e.type === 'handle_revealed');
  const handlesOf = (p: Parties) => [p.travelerWallet, p.counterpartyWallet, p.payoutEmail];
  const reveal = (tradeId: string, body: unknown, token = operator.token, headers: Record<string, string> = {}) =>
    api('POST', `/v1/admin/trades/${tradeId}/reveal`, { token, body, headers });
  const auditOf = async (tradeId: string) =>
    (await api('GET', `/v1/admin/audit?tradeId=${tradeId}&limit=100`, { token: operator.token })).body.data as {
      action: string;
      operatorId: string;
      detail: Record<string, unknown>;
    }[];

  it("shows the traveler's WeChat id to the counterparty only while funded or payout_sent, recording its first showing in each state once", async () => {
    const t = await newTrade();
    expect((await api('GET', `/v1/trades/${t.tradeId}`, { token: t.counterparty.token })).body).not.toHaveProperty('travelerWechatId');
    await fund(t.tradeId);

    // Ten first reads at once: every one sees the handle, one event is written.
    const reads = await Promise.all(
      Array.from({ length: 10 }, () => api('GET', `/v1/trades/${t.tradeId}`, { token: t.counterparty.token })),
    );
    expect(reads.map((r) => [r.status, r.body.travelerWechatId])).toEqual(reads.map(() => [200, t.travelerWallet]));
    expect(await reveals(t.tradeId)).toEqual([
      expect.objectContaining({
        actor: { kind: 'counterparty', id: t.counterparty.id },
        detail: { field: 'travelerWechatId', to: 'counterparty', state: 'funded' },
      }),
    ]);
    // Later reads write nothing more.
    for (let i = 0; i < 3; i += 1) await api('GET', `/v1/trades/${t.tradeId}`, { token: t.counterparty.token });
    expect(await reveals(t.tradeId)).toHaveLength(1);
    // Nobody else sees it, and a list never shows it.
    expect((await api('GET', `/v1/trades/${t.tradeId}`, { token: t.traveler.token })).body).not.toHaveProperty('travelerWechatId');
    expect((await api('GET', `/v1/trades/${t.tradeId}`, { token: operator.token })).body).not.toHaveProperty('travelerWechatId');
    const list = await api('GET', '/v1/trades', { token: t.counterparty.token });
    expect(list.body.data.find((x: { id: string }) => x.id === t.tradeId)).toBeDefined();
    expect(list.text).not.toContain(t.travelerWallet);

    // The payout report shows it in `payout_sent`: one more event, and none for the reads after it.
    const key = `payout-${randomUUID()}`;
    const reported = await api('POST', `/v1/trades/${t.tradeId}/payout`, {
      token: t.counterparty.token,
      body: { wechatTransferId: `WX-${randomUUID()}` },
      headers: { 'idempotency-key': key },
    });
    expect(reported.status).toBe(200);
    expect(reported.body).toMatchObject({ state: 'payout_sent', travelerWechatId: t.travelerWallet });
    await api('GET', `/v1/trades/${t.tradeId}`, { token: t.counterparty.token });
    expect((await reveals(t.tradeId)).map((e) => e.detail)).toEqual([
      { field: 'travelerWechatId', to: 'counterparty', state: 'funded' },
      { field: 'travelerWechatId', to: 'counterparty', state: 'payout_sent' },
    ]);
    expect((await db.query(`SELECT state FROM trade_handle_reveals WHERE trade_id = $1 ORDER BY at`, [t.tradeId])).rows).toEqual([
      { state: 'funded' },
      { state: 'payout_sent' },
    ]);
    // No timeline, whoever reads it, holds the handle.
    for (const token of [t.traveler.token, t.counterparty.token, operator.token]) {
      expect(JSON.stringify(await timeline(t.tradeId, token))).not.toContain(t.travelerWallet);
    }
  });

  it('never replays a payment handle: the stored response has none, and a replay after the trade ended carries none', async () => {
    const t = await newTrade();
    await fund(t.tradeId);
    const key = `payout-${randomUUID()}`;
    const body = { wechatTransferId: `WX-${randomUUID()}` };
    const first = await api('POST', `/v1/trades/${t.tradeId}/payout`, {
      token: t.counterparty.token,
      body,
      headers: { 'idempotency-key': key },
    });
    expect(first.body.travelerWechatId).toBe(t.travelerWallet);

    // What is kept for replays has no handle at all.
    const stored = (
      await db.query(`SELECT response_ciphertext, response_key_id FROM idempotency_keys WHERE owner_id = $1 AND key = $2`, [
        t.counterparty.id,
        key,
      ])
    ).rows[0];
    const kept = test.app
      .get(FieldEncryption)
      .decrypt({ ciphertext: stored.response_ciphertext, keyId: stored.response_key_id }, 'idempotency_keys.response');
    expect(JSON.parse(kept)).toMatchObject({ id: t.tradeId, state: 'payout_sent' });
    expect(kept).not.toContain(t.travelerWallet);

    // The trade completes; the same request replayed later gets the first answer, without the handle.
    expect((await api('POST', `/v1/trades/${t.tradeId}/confirm-receipt`, { token: t.traveler.token })).status).toBe(200);
    await inTransaction((m) => trades.completeRelease(m, t.tradeId, RELEASED));
    // As if a day had passed: the record is still live, its creation long ago.
    await db.query(
      `UPDATE idempotency_keys SET created_at = now() - interval '23 hours', expires_at = now() + interval '1 hour' WHERE owner_id = $1 AND key = $2`,
      [t.counterparty.id, key],
    );
    const replay = await api('POST', `/v1/trades/${t.tradeId}/payout`, {
      token: t.counterparty.token,
      body,
      headers: { 'idempotency-key': key },
    });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toMatchObject({ id: t.tradeId, state: 'payout_sent' });
    expect(replay.body).not.toHaveProperty('travelerWechatId');
    expect(replay.text).not.toContain(t.travelerWallet);
    expect((await api('GET', `/v1/trades/${t.tradeId}`, { token: t.counterparty.token })).body).not.toHaveProperty('travelerWechatId');
  });

  it("reveals any of a trade's handles to an operator with a reason: audited, on the timeline without the value, every call anew", async () => {
    const t = await newTrade();
    const expected = {
      travelerWechatId: t.travelerWallet,
      counterpartyWechatId: t.counterpartyWallet,
      counterpartyPaypalEmail: t.payoutEmail,
    };
    for (const [field, value] of Object.entries(expected)) {
      const answer = await reveal(t.tradeId, { field, reason: 'Dispute evidence check' });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ field, value });
    }

    // The same Idempotency-Key twice: two reveals, two audit rows, nothing stored to replay.
    const key = `reveal-${randomUUID()}`;
    for (let i = 0; i < 2; i += 1) {
      const again = await reveal(t.tradeId, { field: 'travelerWechatId', reason: 'Second look' }, operator.token, {
        'idempotency-key': key,
      });
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ field: 'travelerWechatId', value: t.travelerWallet });
      expect(again.headers.get('idempotent-replayed')).toBeNull();
    }
    expect((await db.query(`SELECT count(*)::int AS n FROM idempotency_keys WHERE key = $1`, [key])).rows[0].n).toBe(0);

    const audit = (await auditOf(t.tradeId)).filter((e) => e.action === 'trade.reveal_handle');
    expect(audit.map((e) => [e.operatorId, e.detail.field, e.detail.reason])).toEqual([
      [operator.id, 'travelerWechatId', 'Dispute evidence check'],
      [operator.id, 'counterpartyWechatId', 'Dispute evidence check'],
      [operator.id, 'counterpartyPaypalEmail', 'Dispute evidence check'],
      [operator.id, 'travelerWechatId', 'Second look'],
      [operator.id, 'travelerWechatId', 'Second look'],
    ]);
    const events = await reveals(t.tradeId);
    expect(events.map((e) => [e.actor, e.detail])).toEqual(
      ['travelerWechatId', 'counterpartyWechatId', 'counterpartyPaypalEmail', 'travelerWechatId', 'travelerWechatId'].map((field) => [
        { kind: 'operator', id: operator.id },
        { field, to: 'operator', operatorId: operator.id, state: 'awaiting_funding' },
      ]),
    );
    // Neither the audit log, nor any timeline, nor the log file holds a value.
    const texts = [JSON.stringify(await auditOf(t.tradeId)), JSON.stringify(await timeline(t.tradeId)), test.readLog()];
    for (const token of [t.traveler.token, t.counterparty.token]) texts.push(JSON.stringify(await timeline(t.tradeId, token)));
    for (const text of texts) for (const handle of handlesOf(t)) expect(text).not.toContain(handle);
  });

  it('refuses a reveal to anyone but an operator, without a reason, for an unknown field or an unknown trade', async () => {
    const t = await newTrade();
    const good = { field: 'travelerWechatId', reason: 'Checking' };
    for (const token of [t.traveler.token, t.counterparty.token]) {
      const refused = await reveal(t.tradeId, good, token);
      expect([refused.status, refused.body.code]).toEqual([403, 'forbidden']);
      expect(refused.text).not.toContain(t.travelerWallet);
    }
    expect((await api('POST', `/v1/admin/trades/${t.tradeId}/reveal`, { body: good })).status).toBe(401);
    for (const body of [
      { field: 'travelerWechatId' },
      { field: 'travelerWechatId', reason: '' },
      { field: 'travelerWechatId', reason: '   ' },
      { field: 'travelerWechatId', reason: 'x'.repeat(501) },
      { field: 'travelerEmail', reason: 'Checking' },
      { reason: 'Checking' },
    ]) {
      const refused = await reveal(t.tradeId, body);
      expect([refused.status, refused.body.code]).toEqual([400, 'validation_failed']);
    }
    expect((await reveal(t.tradeId, { field: 'travelerWechatId', reason: 'x'.repeat(500) })).status).toBe(200);
    const unknown = await reveal(randomUUID(), good);
    expect([unknown.status, unknown.body.code]).toEqual([404, 'not_found']);
    // Only the one good call was audited and put on the timeline.
    expect((await auditOf(t.tradeId)).filter((e) => e.action === 'trade.reveal_handle')).toHaveLength(1);
    expect(await reveals(t.tradeId)).toHaveLength(1);
  });

  describe('retention (HANDLE_RETENTION_MS at its default, 30 days)', () => {
    const eraseNow = async () => {
      const queue = test.app.get(QueueRegistry).get(QUEUES.housekeeping);
      const jobId = `erase-${randomUUID()}`;
      await queue.add(JOBS.housekeeping.eraseHandleSnapshots, {}, { jobId });
      return (await completedJobResult(queue, jobId)) as { deleted: number };
    };
    const endedDaysAgo = (tradeId: string, days: number) =>
      db.query(`UPDATE trades SET ended_at = now() - $2::int * interval '1 day' WHERE id = $1`, [tradeId, days]);
    const snapshot = async (tradeId: string) =>
      (
        await db.query(
          `SELECT traveler_wechat_ciphertext, traveler_wechat_key_id, traveler_wechat_index,
                  counterparty_wechat_ciphertext, counterparty_wechat_key_id, counterparty_wechat_index,
                  counterparty_paypal_ciphertext, counterparty_paypal_key_id, counterparty_paypal_index, handles_erased_at
             FROM trades WHERE id = $1`,
          [tradeId],
        )
      ).rows[0];
    const erased = async (tradeId: string) => {
      const row = await snapshot(tradeId);
      const { handles_erased_at: at, ...columns } = row;
      const values = Object.values(columns);
      if (at !== null && values.every((v) => v === null)) return true;
      if (at === null && values.every((v) => typeof v === 'string' && v.length > 0)) return false;
      throw new Error(`half-erased snapshot: ${JSON.stringify(Object.keys(row))}`);
    };

    it('keeps 30 days by default, far past a 32-bit integer, and marks when a trade ended', async () => {
      expect(test.app.get<{ handleRetentionMs: number }>(tradesConfig.KEY).handleRetentionMs).toBe(30 * 24 * 60 * 60 * 1000);
      expect(30 * 24 * 60 * 60 * 1000).toBeGreaterThan(2 ** 31 - 1);
      const live = await newTrade();
      await fund(live.tradeId);
      const done = await newTrade();
      await complete(done);
      const ended = await db.query(`SELECT id, ended_at FROM trades WHERE id = ANY($1::uuid[])`, [[live.tradeId, done.tradeId]]);
      const endedAt = new Map(ended.rows.map((r) => [r.id, r.ended_at]));
      expect(endedAt.get(live.tradeId)).toBeNull();
      expect(endedAt.get(done.tradeId)).toBeInstanceOf(Date);
    });

    it('erases the snapshots of trades ended over 30 days ago with nothing owed, and keeps the rest', async () => {
      const day29 = await newTrade();
      await complete(day29);
      await endedDaysAgo(day29.tradeId, 29);
      const day31 = await newTrade();
      await complete(day31);
      await endedDaysAgo(day31.tradeId, 31);
      const cancelled = await newTrade();
      expect((await api('POST', `/v1/trades/${cancelled.tradeId}/cancel`, { token: cancelled.traveler.token })).status).toBe(200);
      await endedDaysAgo(cancelled.tradeId, 31);
      // Money still owed: a payout left unclaimed and still watched; a trade flagged for an operator.
      const watched = await newTrade();
      await complete(watched);
      await endedDaysAgo(watched.tradeId, 40);
      await db.query(
        `INSERT INTO settlement_steps (trade_id, step, attempt, request_id, status) VALUES ($1, 'watch_payout', 1, $2, 'waiting')`,
        [watched.tradeId, `yb-${watched.tradeId}-payout`],
      );
      const flagged = await newTrade();
      await complete(flagged);
      await endedDaysAgo(flagged.tradeId, 40);
      await db.query(`UPDATE trades SET settlement_failing = true WHERE id = $1`, [flagged.tradeId]);
      // A live trade, however old, keeps its handles.
      const live = await newTrade();
      await fund(live.tradeId);
      await db.query(`UPDATE trades SET created_at = now() - interval '90 days' WHERE id = $1`, [live.tradeId]);

      const first = await eraseNow();
      expect(first.deleted).toBe(2);
      expect({
        day29: await erased(day29.tradeId),
        day31: await erased(day31.tradeId),
        cancelled: await erased(cancelled.tradeId),
        watched: await erased(watched.tradeId),
        flagged: await erased(flagged.tradeId),
        live: await erased(live.tradeId),
      }).toEqual({ day29: false, day31: true, cancelled: true, watched: false, flagged: false, live: false });
      // Idempotent: nothing more to erase.
      expect((await eraseNow()).deleted).toBe(0);

      // The erased trade still reads, with no handle anywhere; a reveal says the handle is gone, and records nothing.
      for (const token of [day31.traveler.token, day31.counterparty.token, operator.token]) {
        const view = await api('GET', `/v1/trades/${day31.tradeId}`, { token });
        expect(view.status).toBe(200);
        expect(view.body).toMatchObject({ id: day31.tradeId, state: 'completed' });
        expect(view.body).not.toHaveProperty('travelerWechatId');
        expect((await api('GET', `/v1/trades/${day31.tradeId}/events`, { token })).status).toBe(200);
      }
      const auditBefore = (await auditOf(day31.tradeId)).length;
      for (const field of ['travelerWechatId', 'counterpartyWechatId', 'counterpartyPaypalEmail']) {
        const gone = await reveal(day31.tradeId, { field, reason: 'Late check' });
        expect([gone.status, gone.body.code]).toEqual([409, 'handle_erased']);
        expect(gone.body.erasedAt).toEqual(expect.any(String));
      }
      expect(await auditOf(day31.tradeId)).toHaveLength(auditBefore);
      // The one kept 29 days still answers.
      expect((await reveal(day29.tradeId, { field: 'counterpartyPaypalEmail', reason: 'Check' })).body.value).toBe(day29.payoutEmail);

      // The watch ends (the payout claimed): nothing is owed, and the next run erases it.
      await db.query(`UPDATE settlement_steps SET status = 'done', finished_at = now() WHERE trade_id = $1`, [watched.tradeId]);
      await eraseNow();
      expect(await erased(watched.tradeId)).toBe(true);
      expect(await erased(flagged.tradeId)).toBe(false);
    });

    it('refuses in the database a snapshot erased from a live trade, or erased in part', async () => {
      const live = await newTrade();
      await expect(
        db.query(
          `UPDATE trades SET traveler_wechat_ciphertext = NULL, traveler_wechat_key_id = NULL, traveler_wechat_index = NULL,
                  counterparty_wechat_ciphertext = NULL, counterparty_wechat_key_id = NULL, counterparty_wechat_index = NULL,
                  counterparty_paypal_ciphertext = NULL, counterparty_paypal_key_id = NULL, counterparty_paypal_index = NULL,
                  handles_erased_at = now() WHERE id = $1`,
          [live.tradeId],
        ),
      ).rejects.toThrow(/trades_handles_kept_or_erased/);
      const done = await newTrade();
      await complete(done);
      await expect(db.query(`UPDATE trades SET traveler_wechat_ciphertext = NULL WHERE id = $1`, [done.tradeId])).rejects.toThrow(
        /trades_handles_kept_or_erased/,
      );
    });
  });
});
