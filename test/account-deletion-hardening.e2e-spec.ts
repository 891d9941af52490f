import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { registerUser, TestUser } from './support/factories';
import { fixed, readyCounterparty, wechatId, withWallet } from './support/market';
import { completedJobResult, eventually } from './support/test-app';
import { quietRates } from './support/settings';
import { useTestApp } from './support/use-test-app';

const MAX_FAILURES = 3;
const WINDOW_MS = 8000;

/**
 * The account deletion (`DELETE /v1/me`) as an attacker with a stolen token, and as a user whose other requests
 * race it: its password is throttled like a sign-in; a request authenticated just before the deletion committed
 * is answered 401, never 500, and changes nothing; it refuses while money of a trade is owed by the one definition
 * the handle retention uses too; and it erases the payment handle snapshots of the account's ended trades.
 */
describe('account deletion hardening (HTTP)', () => {
  const { test, api, db, operator } = useTestApp(
    {
      ...quietRates,
      LOGIN_MAX_FAILURES: String(MAX_FAILURES),
      LOGIN_FAILURE_WINDOW_MS: String(WINDOW_MS),
      FUNDING_WINDOW_BANK_MS: '3600000',
      DEADLINE_SWEEP_EVERY_MS: '3600000',
      // The periodic sweep stays out of the way: the tests run the job when they mean to.
      HANDLE_RETENTION_SWEEP_EVERY_MS: '3600000',
    },
    { reference: '7.2400', operator: true },
  );

  const deleteAccount = (user: TestUser, password = user.password) => api('DELETE', '/v1/me', { token: user.token, body: { password } });

  /** A bank transfer trade between a new traveler and a new counterparty, cancelled by the traveler: ended. */
  async function endedTrade(): Promise<{ traveler: TestUser; counterparty: TestUser; tradeId: string }> {
    const traveler = await withWallet(api, await registerUser(api, 'traveler'));
    const counterparty = await readyCounterparty(api);
    const request = await api('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny: '100.00', price: fixed('7.2400'), paymentMethod: 'bank_transfer' },
    });
    expect(request.status).toBe(201);
    const trade = await api('POST', `/v1/requests/${request.body.id}/accept`, { token: counterparty.token, body: {} });
    expect(trade.status).toBe(201);
    expect((await api('POST', `/v1/trades/${trade.body.id}/cancel`, { token: traveler.token })).status).toBe(200);
    return { traveler, counterparty, tradeId: trade.body.id };
  }

  const snapshotErased = async (tradeId: string) => {
    const row = (
      await db.query(
        `SELECT handles_erased_at, traveler_wechat_ciphertext, traveler_wechat_key_id, traveler_wechat_index,
                counterparty_wechat_ciphertext, counterparty_wechat_key_id, counterparty_wechat_index,
                counterparty_paypal_ciphertext, counterparty_paypal_key_id, counterparty_paypal_index
           FROM trades WHERE id = $1`,
        [tradeId],
      )
    ).rows[0];
    const { handles_erased_at: at, ...columns } = row;
    const values = Object.values(columns);
    if (at !== null && values.every((v) => v === null)) return true;
    if (at === null && values.every((v) => typeof v === 'string' && v.length > 0)) return false;
    throw new Error('half-erased snapshot');
  };

  describe('the password is throttled like a sign-in', () => {
    it('refuses the right password with 429 after LOGIN_MAX_FAILURES wrong ones, shares the sign-in counter, and deletes once the window passes', async () => {
      const victim = await withWallet(api, await registerUser(api, 'traveler'));
      for (let i = 0; i < MAX_FAILURES; i += 1) {
        const wrong = await deleteAccount(victim, `guess ${i}`);
        expect([wrong.status, wrong.body.code]).toEqual([401, 'unauthenticated']);
      }
      const right = await deleteAccount(victim);
      expect([right.status, right.body.code]).toEqual([429, 'rate_limited']);
      expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(right.headers.get('retry-after'))).toBeLessThanOrEqual(WINDOW_MS / 1000);
      // The same per-email counter as the sign-in: the right password is refused there too.
      const signIn = await api('POST', '/v1/auth/login', { body: { email: victim.email, password: victim.password } });
      expect([signIn.status, signIn.body.code]).toEqual([429, 'rate_limited']);
      // Nothing was deleted.
      expect((await api('GET', '/v1/me', { token: victim.token })).body).toMatchObject({ id: victim.id, email: victim.email });

      // Once the window since the first failure has passed, the right password deletes.
      const deleted = await eventually(async () => {
        const response = await deleteAccount(victim);
        return response.status !== 429 && response;
      }, 30000);
      expect(deleted.status).toBe(200);
      expect(deleted.body.displayName).toBe('Deleted user');
    });

    it('counts failed sign-ins toward the deletion: the guesses are shared, not doubled', async () => {
      const victim = await withWallet(api, await registerUser(api, 'traveler'));
      for (let i = 0; i < MAX_FAILURES; i += 1) {
        expect((await api('POST', '/v1/auth/login', { body: { email: victim.email, password: `guess ${i}` } })).status).toBe(401);
      }
      const right = await deleteAccount(victim);
      expect([right.status, right.body.code]).toEqual([429, 'rate_limited']);
      expect((await api('GET', '/v1/me', { token: victim.token })).status).toBe(200);
    });
  });

  describe('a request racing the deletion', () => {
    /**
     * Holds the user's row from another connection, queues the deletion on it, then `other` behind it, and lets
     * them go: the deletion commits first, and `other` finds the account deleted.
     */
    async function raceBehindDeletion(user: TestUser, other: () => Promise<{ status: number; body: any }>) {
      const holder = new Client({ connectionString: test.databaseUrl });
      await holder.connect();
      const waiting = async () =>
        (
          await db.query(
            `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE NOT l.granted AND a.datname = current_database()`,
          )
        ).rows[0].n as number;
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [user.id]);
        const deletion = deleteAccount(user);
        await eventually(async () => (await waiting()) >= 1, 15000);
        const racing = other();
        await eventually(async () => (await waiting()) >= 2, 15000);
        await holder.query('COMMIT');
        return { deletion: await deletion, racing: await racing };
      } finally {
        await holder.end();
      }
    }

    it('a WeChat wallet change queued behind the deletion answers 401, not 500, and sets nothing', async () => {
      const user = await withWallet(api, await registerUser(api, 'traveler'));
      const { deletion, racing } = await raceBehindDeletion(user, () =>
        api('PUT', '/v1/me/wechat-wallet', { token: user.token, body: { wechatId: wechatId() } }),
      );
      expect(deletion.status).toBe(200);
      expect([racing.status, racing.body.code]).toEqual([401, 'unauthenticated']);
      const row = (await db.query(`SELECT deleted_at, wechat_id_ciphertext FROM users WHERE id = $1`, [user.id])).rows[0];
      expect(row.deleted_at).toBeInstanceOf(Date);
      expect(row.wechat_id_ciphertext).toBeNull();
    });

    it('a payout account change queued behind the deletion answers 401, not 500', async () => {
      const user = await readyCounterparty(api);
      const { deletion, racing } = await raceBehindDeletion(user, () =>
        api('PUT', '/v1/me/payout-account', {
          token: user.token,
          body: { method: 'paypal', paypalEmail: `late-${randomUUID().slice(0, 8)}@example.com` },
        }),
      );
      expect(deletion.status).toBe(200);
      expect([racing.status, racing.body.code]).toEqual([401, 'unauthenticated']);
      expect(
        (await db.query(`SELECT paypal_email_ciphertext FROM users WHERE id = $1`, [user.id])).rows[0].paypal_email_ciphertext,
      ).toBeNull();
    });

    it('a request posted behind the deletion answers 401 and posts nothing', async () => {
      const user = await withWallet(api, await registerUser(api, 'traveler'));
      const { deletion, racing } = await raceBehindDeletion(user, () =>
        api('POST', '/v1/requests', {
          token: user.token,
          body: { amountCny: '100.00', price: fixed('7.2400'), paymentMethod: 'bank_transfer' },
        }),
      );
      expect(deletion.status).toBe(200);
      expect([racing.status, racing.body.code]).toEqual([401, 'unauthenticated']);
      expect((await db.query(`SELECT count(*)::int AS n FROM exchange_requests WHERE traveler_id = $1`, [user.id])).rows[0].n).toBe(0);
    });

    it('an accept queued behind the deletion of its acceptor is refused (a 4xx, not 500) and makes no trade', async () => {
      const traveler = await withWallet(api, await registerUser(api, 'traveler'));
      const request = await api('POST', '/v1/requests', {
        token: traveler.token,
        body: { amountCny: '100.00', price: fixed('7.2400'), paymentMethod: 'bank_transfer' },
      });
      expect(request.status).toBe(201);
      const user = await readyCounterparty(api);
      const { deletion, racing } = await raceBehindDeletion(user, () =>
        api('POST', `/v1/requests/${request.body.id}/accept`, { token: user.token, body: {} }),
      );
      expect(deletion.status).toBe(200);
      expect([401, 409]).toContain(racing.status);
      expect((await db.query(`SELECT count(*)::int AS n FROM trades WHERE counterparty_id = $1`, [user.id])).rows[0].n).toBe(0);
    });

    it('an API key created behind the deletion answers 401 and makes no key', async () => {
      const user = await withWallet(api, await registerUser(api, 'traveler'));
      const { deletion, racing } = await raceBehindDeletion(user, () =>
        api('POST', '/v1/me/api-keys', { token: user.token, body: { name: 'late bot' } }),
      );
      expect(deletion.status).toBe(200);
      expect([racing.status, racing.body.code]).toEqual([401, 'unauthenticated']);
      expect(racing.body).not.toHaveProperty('key');
      expect((await db.query(`SELECT count(*)::int AS n FROM api_keys WHERE user_id = $1`, [user.id])).rows[0].n).toBe(0);
    });
  });

  describe('money owed, one definition for deletion and retention', () => {
    const finishedRun = async () =>
      (await db.query(`INSERT INTO reconciliation_runs (trigger, finished_at) VALUES ('operator', now()) RETURNING id`)).rows[0]
        .id as string;

    it('refuses the deletion while a reconciliation mismatch of an ended trade is open, or the trade is watched; then deletes and erases its handles', async () => {
      const { traveler, counterparty, tradeId } = await endedTrade();
      const other = await endedTrade();
      const run = await finishedRun();
      const mismatch = (
        await db.query(
          `INSERT INTO reconciliation_mismatches (kind, subject, trade_id, detail, opened_run, last_seen_run)
           VALUES ('test_mismatch', $1::text, $1::uuid, 'provider and ledger disagree', $2, $2) RETURNING id`,
          [tradeId, run],
        )
      ).rows[0].id;
      const open = await deleteAccount(traveler);
      expect([open.status, open.body.code]).toEqual([409, 'live_trades']);

      await db.query(`UPDATE reconciliation_mismatches SET resolved_at = now(), resolved_run = $2 WHERE id = $1`, [mismatch, run]);
      await db.query(
        `INSERT INTO reconciliation_watch (trade_id, reason, until) VALUES ($1, 'payout not final', now() + interval '1 hour')`,
        [tradeId],
      );
      const watched = await deleteAccount(traveler);
      expect([watched.status, watched.body.code]).toEqual([409, 'live_trades']);
      expect(await snapshotErased(tradeId)).toBe(false);

      await db.query(`DELETE FROM reconciliation_watch WHERE trade_id = $1`, [tradeId]);
      const deleted = await deleteAccount(traveler);
      expect(deleted.status).toBe(200);

      // Her payment details are gone from her trade too: the snapshot is erased, a reveal says so.
      expect(await snapshotErased(tradeId)).toBe(true);
      for (const field of ['travelerWechatId', 'counterpartyWechatId', 'counterpartyPaypalEmail']) {
        const reveal = await api('POST', `/v1/admin/trades/${tradeId}/reveal`, {
          token: operator.token,
          body: { field, reason: 'Check after deletion' },
        });
        expect([reveal.status, reveal.body.code]).toEqual([409, 'handle_erased']);
      }
      // The trade still reads for its other party; a trade of other people keeps its handles.
      expect((await api('GET', `/v1/trades/${tradeId}`, { token: counterparty.token })).body).toMatchObject({
        id: tradeId,
        state: 'cancelled',
      });
      expect(await snapshotErased(other.tradeId)).toBe(false);
      const kept = await api('POST', `/v1/admin/trades/${other.tradeId}/reveal`, {
        token: operator.token,
        body: { field: 'travelerWechatId', reason: 'Check' },
      });
      expect(kept.status).toBe(200);
    });

    it('keeps the handles of a trade past retention while bank suspense is unreturned or a settlement holds its claim', async () => {
      const eraseNow = async () => {
        const queue = test.app.get(QueueRegistry).get(QUEUES.housekeeping);
        const jobId = `erase-${randomUUID()}`;
        await queue.add(JOBS.housekeeping.eraseHandleSnapshots, {}, { jobId });
        return (await completedJobResult(queue, jobId)) as { deleted: number };
      };
      const suspense = await endedTrade();
      const claimed = await endedTrade();
      const control = await endedTrade();
      await db.query(`UPDATE trades SET ended_at = now() - interval '40 days' WHERE id = ANY($1::uuid[])`, [
        [suspense.tradeId, claimed.tradeId, control.tradeId],
      ]);
      // Money the traveler sent late, held in suspense and not yet given back.
      await db.query(
        `INSERT INTO bank_incoming_transfers (transfer_id, trade_id, amount_usd, funded_usd, suspense_usd, disposition)
         VALUES ($1, $2, 1381, 0, 1381, 'late')`,
        [`bt_${randomUUID()}`, suspense.tradeId],
      );
      // A settlement run holding its claim on the trade's funding row.
      await db.query(
        `INSERT INTO trade_fundings (trade_id, provider, settlement_claim, settlement_claimed_until)
         VALUES ($1, 'bank_transfer', $2, now() + interval '1 hour')
         ON CONFLICT (trade_id) DO UPDATE SET settlement_claim = EXCLUDED.settlement_claim,
                                             settlement_claimed_until = EXCLUDED.settlement_claimed_until`,
        [claimed.tradeId, randomUUID()],
      );

      await eraseNow();
      expect({
        suspense: await snapshotErased(suspense.tradeId),
        claimed: await snapshotErased(claimed.tradeId),
        control: await snapshotErased(control.tradeId),
      }).toEqual({ suspense: false, claimed: false, control: true });
      // The deletion of their parties is refused for the same reasons.
      for (const user of [suspense.traveler, claimed.counterparty]) {
        const refused = await deleteAccount(user);
        expect([refused.status, refused.body.code]).toEqual([409, 'live_trades']);
      }

      // Given back, and the claim released: nothing is owed, the next run erases both.
      await db.query(`UPDATE bank_incoming_transfers SET returned_at = now(), return_id = 'ret-test' WHERE trade_id = $1`, [
        suspense.tradeId,
      ]);
      await db.query(`UPDATE trade_fundings SET settlement_claim = NULL, settlement_claimed_until = NULL WHERE trade_id = $1`, [
        claimed.tradeId,
      ]);
      await eraseNow();
      expect(await snapshotErased(suspense.tradeId)).toBe(true);
      expect(await snapshotErased(claimed.tradeId)).toBe(true);
    });
  });
});
