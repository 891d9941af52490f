import { Client } from 'pg';
import { fundedTrade } from './support/trades';
import { useTestApp } from './support/use-test-app';

describe('Idempotency-Key: a request that committed its change, then failed before answering (HTTP)', () => {
  // A short statement timeout lets the test make the database fail the answer's read on purpose.
  const { test, api, db } = useTestApp({ DATABASE_STATEMENT_TIMEOUT_MS: '1000' });

  it('never runs the change again: a retry is told the change was made, and the trade moved once', async () => {
    const { trade, counterparty } = await fundedTrade(api);
    const headers = { 'idempotency-key': 'report-once' };
    const body = { wechatTransferId: `WX-${trade.id.slice(0, 8)}` };

    // The report commits funded → payout_sent; its answer shows the traveler's WeChat id to the counterparty,
    // which is recorded first. With the reveals' table locked, that record times out after the commit: a 503.
    const locker = new Client({ connectionString: test.databaseUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE trade_handle_reveals IN ACCESS EXCLUSIVE MODE');
      const failed = await api('POST', `/v1/trades/${trade.id}/payout`, { token: counterparty.token, body, headers });
      expect(failed.status).toBe(503);
      expect(failed.body.code).toBe('service_busy');
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    const reported = await db.query(`SELECT count(*)::int AS n FROM trade_events WHERE trade_id = $1 AND to_state = 'payout_sent'`, [
      trade.id,
    ]);
    expect(reported.rows[0].n).toBe(1);

    // The retry does not report again (which would be refused as a move from the wrong state): it is told the
    // first made its change, to read the trade.
    const retried = await api('POST', `/v1/trades/${trade.id}/payout`, { token: counterparty.token, body, headers });
    expect(retried.status).toBe(409);
    expect(retried.body.code).toBe('idempotency_key_in_use');
    expect(retried.body.detail).toMatch(/made its change/);
    const read = await api('GET', `/v1/trades/${trade.id}`, { token: counterparty.token });
    expect(['payout_sent', 'releasing', 'completed']).toContain(read.body.state);
    const after = await db.query(`SELECT count(*)::int AS n FROM trade_events WHERE trade_id = $1 AND to_state = 'payout_sent'`, [
      trade.id,
    ]);
    expect(after.rows[0].n).toBe(1);
  });
});
