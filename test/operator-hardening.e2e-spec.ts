import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createOperator, registerUser, TestUser } from './support/factories';
import { ApiResponse } from './support/http';
import { fixed, wechatId, withWallet } from './support/market';
import { eventually } from './support/test-app';
import { settling } from './support/settings';
import { useTestApp } from './support/use-test-app';

/**
 * Operators as an insider would attack: lifting their own suspension, acting in the moment another operator
 * suspends them, and using a scoped API key for an operator decision that moves money or reveals a handle.
 */
describe('operator hardening (HTTP)', () => {
  const { test, api, db } = useTestApp(
    {
      ...settling,
      // A released trade stays `releasing` while its payout is pending at the mock: a retry is then accepted.
      PAYPAL_MOCK_PAYOUT_DELAY_MS: '600000',
      PAYPAL_HONOR_PERIOD_MS: '3000',
    },
    { reference: '7.2400' },
  );

  async function newKey(user: TestUser, body: Record<string, unknown> = {}): Promise<string> {
    const created = await api('POST', '/v1/me/api-keys', { token: user.token, body });
    if (created.status !== 201) throw new Error(`api key: ${created.status} ${created.text}`);
    return created.body.key as string;
  }

  /** How many backends wait, directly or in a queue behind another waiter, on the locks `holder` holds. */
  async function waitingOn(holder: number): Promise<number> {
    const rows: { pid: number; blockers: number[] }[] = (
      await db.query(`SELECT pid, pg_blocking_pids(pid) AS blockers FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0`)
    ).rows;
    const blocked = new Set<number>([holder]);
    for (let grew = true; grew;) {
      grew = false;
      for (const row of rows) {
        if (!blocked.has(row.pid) && row.blockers.some((pid) => blocked.has(pid))) {
          blocked.add(row.pid);
          grew = true;
        }
      }
    }
    return blocked.size - 1;
  }

  /** Another operator's suspension of `id`, under way: its statement holds the row until `commit`. */
  async function suspensionUnderWay(id: string): Promise<{ pid: number; commit: () => Promise<void> }> {
    const connection = new Client({ connectionString: test.databaseUrl });
    await connection.connect();
    await connection.query('BEGIN');
    await connection.query(`UPDATE users SET suspended_at = now(), updated_at = now() WHERE id = $1`, [id]);
    const pid = (await connection.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    return {
      pid,
      commit: async () => {
        try {
          await connection.query('COMMIT');
        } finally {
          await connection.end();
        }
      },
    };
  }

  const auditOf = async (reader: TestUser, operatorId: string) =>
    (await api('GET', `/v1/admin/audit?operatorId=${operatorId}`, { token: reader.token })).body.data as { action: string }[];
  const tradeState = async (reader: TestUser, tradeId: string) =>
    (await api('GET', `/v1/trades/${tradeId}`, { token: reader.token })).body.state as string;
  const disputeOf = async (reader: TestUser, id: string) =>
    (await api('GET', `/v1/disputes/${id}`, { token: reader.token })).body as { status: string; assignedTo: string | null };

  /** A PayPal trade, funded at the mock, with a dispute opened by its traveler. */
  async function disputedTrade(reader: TestUser): Promise<{ tradeId: string; disputeId: string }> {
    const traveler = await withWallet(api, await registerUser(api, 'traveler'), wechatId());
    const counterparty = await withWallet(api, await registerUser(api, 'counterparty'), wechatId());
    const payoutEmail = `payout-${randomUUID().slice(0, 8)}@example.com`;
    await api('PUT', '/v1/me/payout-account', { token: counterparty.token, body: { method: 'paypal', paypalEmail: payoutEmail } });
    const request = await api('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny: '1000.00', price: fixed('7.2400'), paymentMethod: 'paypal' },
    });
    const trade = (await api('POST', `/v1/requests/${request.body.id}/accept`, { token: counterparty.token, body: {} })).body;
    const funding = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    const payerEmail = `payer-${randomUUID().slice(0, 8)}@example.com`;
    await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, { body: { payerEmail } });
    await eventually(async () => (await tradeState(reader, trade.id)) === 'funded');
    const opened = await api('POST', `/v1/trades/${trade.id}/disputes`, {
      token: traveler.token,
      body: { reason: 'rmb_not_received', statement: 'Nothing arrived in my WeChat wallet.' },
    });
    expect(opened.status).toBe(201);
    return { tradeId: trade.id, disputeId: opened.body.id };
  }

  it('an operator cannot lift their own suspension (403 forbidden), by token or key; nothing is recorded', async () => {
    const operator = await createOperator(test, api);
    const key = await newKey(operator);
    for (const credentials of [{ token: operator.token }, { apiKey: key }]) {
      const refused = await api('POST', `/v1/admin/users/${operator.id}/unsuspend`, credentials);
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('forbidden');
    }
    expect(await auditOf(operator, operator.id)).toEqual([]);
  });

  it('an operator suspended while their requests were past the guard does nothing: every operator write re-checks under the row lock', async () => {
    const boss = await createOperator(test, api);
    const rogue = await createOperator(test, api);
    const victim = await registerUser(api, 'traveler');
    expect((await api('POST', `/v1/admin/users/${victim.id}/suspend`, { token: boss.token })).status).toBe(200);
    const tier = (await api('GET', `/v1/admin/users/${victim.id}`, { token: boss.token })).body.tier as number;
    const { tradeId, disputeId } = await disputedTrade(boss);
    // The rogue's principal is cached as active, as it is for anyone who acted in the last PRINCIPAL_CACHE_MS.
    expect((await api('GET', '/v1/me', { token: rogue.token })).body.suspended).toBe(false);

    // The boss's suspension of the rogue, under way: its statement holds the rogue's row until it commits.
    const suspension = await suspensionUnderWay(rogue.id);
    const attempts: [string, string, unknown][] = [
      ['POST', `/v1/admin/users/${victim.id}/unsuspend`, undefined],
      ['PUT', `/v1/admin/users/${victim.id}/tier`, { tier: (tier + 1) % 3 }],
      ['POST', `/v1/admin/trades/${tradeId}/reveal`, { field: 'counterpartyPaypalEmail', reason: 'Looking' }],
      ['POST', `/v1/admin/disputes/${disputeId}/resolve`, { outcome: 'refund', note: 'Refund it' }],
      ['POST', `/v1/admin/trades/${tradeId}/retry-settlement`, undefined],
    ];
    let settled = 0;
    const answers = attempts.map(([method, path, body]) =>
      api(method, path, { token: rogue.token, body }).finally(() => {
        settled += 1;
      }),
    );
    try {
      // Every request is past the guard: answered, or waiting in its transaction on a lock the suspension holds.
      await eventually(async () => (await waitingOn(suspension.pid)) + settled >= attempts.length);
    } finally {
      await suspension.commit();
    }
    const results: ApiResponse[] = await Promise.all(answers);
    for (const [i, result] of results.entries()) {
      expect([attempts[i][1], result.status, result.body.code]).toEqual([attempts[i][1], 403, 'account_suspended']);
      expect(result.text).not.toContain('@example.com');
    }

    // Nothing the rogue tried happened.
    const target = (await api('GET', `/v1/admin/users/${victim.id}`, { token: boss.token })).body;
    expect([target.suspended, target.tier]).toEqual([true, tier]);
    expect(await disputeOf(boss, disputeId)).toMatchObject({ status: 'open', assignedTo: null });
    expect(await tradeState(boss, tradeId)).toBe('disputed');
    expect(await auditOf(boss, rogue.id)).toEqual([]);

    // A dispute's assignment, alone (with a resolution it would wait on the dispute's lock, not the rogue's row).
    expect((await api('POST', `/v1/admin/users/${rogue.id}/unsuspend`, { token: boss.token })).status).toBe(200);
    expect((await api('GET', '/v1/me', { token: rogue.token })).body.suspended).toBe(false);
    const again = await suspensionUnderWay(rogue.id);
    let assigned = false;
    const answer = api('POST', `/v1/admin/disputes/${disputeId}/assign`, { token: rogue.token, body: {} }).finally(() => {
      assigned = true;
    });
    try {
      await eventually(async () => assigned || (await waitingOn(again.pid)) >= 1);
    } finally {
      await again.commit();
    }
    const refused = await answer;
    expect([refused.status, refused.body.code]).toEqual([403, 'account_suspended']);
    expect(await disputeOf(boss, disputeId)).toMatchObject({ status: 'open', assignedTo: null });
    expect(await auditOf(boss, rogue.id)).toEqual([]);
  });

  it('operator decisions need an unscoped key or a token: a trade or read key gets 403 on reveal, assign, resolve and retry-settlement', async () => {
    const operator = await createOperator(test, api);
    const scoped = { trade: await newKey(operator, { scope: 'trade' }), read: await newKey(operator, { scope: 'read' }) };
    const unscoped = await newKey(operator);
    const viaKey = await disputedTrade(operator);
    const viaToken = await disputedTrade(operator);

    const decisions = (t: { tradeId: string; disputeId: string }): [string, string, unknown][] => [
      ['POST', `/v1/admin/trades/${t.tradeId}/reveal`, { field: 'counterpartyPaypalEmail', reason: 'Dispute evidence' }],
      ['POST', `/v1/admin/disputes/${t.disputeId}/assign`, {}],
      ['POST', `/v1/admin/disputes/${t.disputeId}/resolve`, { outcome: 'release', note: 'Paid' }],
      ['POST', `/v1/admin/trades/${t.tradeId}/retry-settlement`, undefined],
    ];
    for (const [scope, apiKey] of Object.entries(scoped)) {
      for (const [method, path, body] of decisions(viaKey)) {
        const refused = await api(method, path, { apiKey, body });
        expect([scope, path, refused.status, refused.body.code]).toEqual([scope, path, 403, 'forbidden']);
        expect(refused.text).not.toContain('@example.com');
      }
    }
    // Nothing the scoped keys tried happened.
    expect(await disputeOf(operator, viaKey.disputeId)).toMatchObject({ status: 'open', assignedTo: null });
    expect(await auditOf(operator, operator.id)).toEqual([]);

    for (const [t, credentials] of [
      [viaKey, { apiKey: unscoped }],
      [viaToken, { token: operator.token }],
    ] as const) {
      const [reveal, assign, resolve, retry] = decisions(t);
      const revealed = await api(reveal[0], reveal[1], { ...credentials, body: reveal[2] });
      expect(revealed.status).toBe(200);
      expect(revealed.body.field).toBe('counterpartyPaypalEmail');
      expect((await api(assign[0], assign[1], { ...credentials, body: assign[2] })).body).toMatchObject({ assignedTo: operator.id });
      const resolved = await api(resolve[0], resolve[1], { ...credentials, body: resolve[2] });
      expect([resolved.status, resolved.body.status]).toEqual([200, 'resolved']);
      await eventually(async () => (await tradeState(operator, t.tradeId)) === 'releasing');
      expect((await api(retry[0], retry[1], credentials)).status).toBe(200);
    }
    expect((await auditOf(operator, operator.id)).map((e) => e.action).sort()).toEqual(
      [
        ...['trade.reveal_handle', 'dispute.assign', 'dispute.resolve', 'trade.retry_settlement'],
        ...['trade.reveal_handle', 'dispute.assign', 'dispute.resolve', 'trade.retry_settlement'],
      ].sort(),
    );
  });
});
