import { Client } from 'pg';
import { readyTraveler } from './support/market';
import { fundedTrade } from './support/trades';
import { useTestApp } from './support/use-test-app';

describe('Idempotency-Key: a request that committed its change, then failed before answering (HTTP)', () => {
  // A short statement timeout lets the test make the database fail a statement on purpose.
  const { test, api, db } = useTestApp({ DATABASE_STATEMENT_TIMEOUT_MS: '1000' }, { reference: '7.2400' });

  /** Runs `during` while another session holds `table` locked, so any statement reading it times out. */
  async function withTableLocked<T>(table: string, during: () => Promise<T>): Promise<T> {
    const locker = new Client({ connectionString: test.databaseUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
      return await during();
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
  }

  it('never runs the change again: a retry is told the change was made, and the request was posted once', async () => {
    const traveler = await readyTraveler(api);
    const headers = { 'idempotency-key': 'post-once' };
    const body = { amountCny: '100.00', price: { type: 'floating', premiumBps: 0 }, paymentMethod: 'paypal' };
    const posted = async () =>
      (await db.query(`SELECT count(*)::int AS n FROM exchange_requests WHERE traveler_id = $1`, [traveler.id])).rows[0].n;

    // The post commits the request, then reads it back with its maker's reputation for the answer: with the
    // reputation table locked, that read times out after the commit, a 503.
    const failed = await withTableLocked('user_reputation', () => api('POST', '/v1/requests', { token: traveler.token, body, headers }));
    expect(failed.status).toBe(503);
    expect(failed.body.code).toBe('service_busy');
    expect(await posted()).toBe(1);

    // The retry does not post again: it is told the first made its change, to read the request list.
    const retried = await api('POST', '/v1/requests', { token: traveler.token, body, headers });
    expect(retried.status).toBe(409);
    expect(retried.body.code).toBe('idempotency_key_in_use');
    expect(retried.body.detail).toMatch(/made its change/);
    expect(await posted()).toBe(1);
  });

  it("commits a payout report with its answer's handle showing or not at all: a retry then reports once", async () => {
    const { trade, counterparty } = await fundedTrade(api);
    const headers = { 'idempotency-key': 'report-once' };
    const body = { wechatTransferId: `WX-${trade.id.slice(0, 8)}` };
    const reported = async () =>
      (await db.query(`SELECT count(*)::int AS n FROM trade_events WHERE trade_id = $1 AND to_state = 'payout_sent'`, [trade.id])).rows[0]
        .n;

    // The answer shows the counterparty the traveler's WeChat id, recorded in the report's own transaction: with the
    // reveals' table locked, the whole report times out and rolls back.
    const failed = await withTableLocked('trade_handle_reveals', () =>
      api('POST', `/v1/trades/${trade.id}/payout`, { token: counterparty.token, body, headers }),
    );
    expect(failed.status).toBe(503);
    expect(failed.body.code).toBe('service_busy');
    expect(await reported()).toBe(0);

    // Nothing was made, so the retry runs the report, once.
    const retried = await api('POST', `/v1/trades/${trade.id}/payout`, { token: counterparty.token, body, headers });
    expect(retried.status).toBe(200);
    expect(retried.body.state).toBe('payout_sent');
    expect(retried.body.travelerWechatId).toEqual(expect.any(String));
    expect(await reported()).toBe(1);
    const shown = await db.query(`SELECT count(*)::int AS n FROM trade_handle_reveals WHERE trade_id = $1 AND state = 'payout_sent'`, [
      trade.id,
    ]);
    expect(shown.rows[0].n).toBe(1);
  });
});
