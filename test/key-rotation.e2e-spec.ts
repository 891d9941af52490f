import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { FieldEncryption } from '../src/common/crypto/field-encryption';
import { verifyPayload } from '../src/common/crypto/hmac-signature';
import { DEV_BLIND_INDEX_KEY, DEV_FIELD_ENCRYPTION_KEYS } from '../src/config/crypto.config';
import { ENCRYPTED_COLUMNS } from '../src/key-rotation/encrypted-columns';
import { rotateKeysCommand } from '../src/key-rotation/rotate-keys.command';
import { HANDLE_CONTEXT } from '../src/common/crypto/handle-context';
import { registerUser, TestUser } from './support/factories';
import { client, Api } from './support/http';
import { fixed, readyCounterparty, setReference, wechatId, withWallet } from './support/market';
import { fundAtPaypal, paypalTrade, PaypalTrade } from './support/paypal-trades';
import { tradeState } from './support/trades';
import { deleteRedisKeys, dropDatabase, eventually, startTestApp, TestApp } from './support/test-app';

/**
 * Rotating the field encryption key and the blind index key while the service runs: values written under the
 * old keys (`dev1`, the legacy blind index key) by a first instance, a second instance configured with both
 * old and new keys (`k2`, `b2` active) serving meanwhile, `rotate-keys` run against the shared database, and
 * a third instance holding only the new keys reading everything afterwards.
 */
describe('key rotation', () => {
  const K2 = `k2:${randomBytes(32).toString('base64')}`;
  const B2 = `b2:${randomBytes(32).toString('base64')}`;
  const settings = {
    RATE_FEED_WALK_BPS: '0',
    REFERENCE_RATE_REFRESH_EVERY_MS: '3600000',
    PROVIDER_POLL_EVERY_MS: '200',
    PROVIDER_POLL_MAX_EVERY_MS: '1000',
    OUTBOX_POLL_INTERVAL_MS: '50',
    PAYOUT_WINDOW_MS: '3600000',
    DEADLINE_SWEEP_EVERY_MS: '3600000',
    PAYPAL_MOCK_PAYOUT_DELAY_MS: '100',
    PAYPAL_MOCK_WEBHOOK_BACKOFF_MS: '100',
    VERIFY_TIMEOUT_MS: '1500',
    WECHAT_MOCK_NOTIFY_SCHEDULE_MS: '100,100',
    // A webhook endpoint's secret is an encrypted column too: its receiver listens on loopback.
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  };
  const rotating = {
    ...settings,
    FIELD_ENCRYPTION_KEYS: `${DEV_FIELD_ENCRYPTION_KEYS},${K2}`,
    FIELD_ENCRYPTION_ACTIVE_KEY_ID: 'k2',
    BLIND_INDEX_KEY: DEV_BLIND_INDEX_KEY,
    BLIND_INDEX_KEYS: B2,
    BLIND_INDEX_ACTIVE_KEY_ID: 'b2',
  };
  const retired = { ...settings, FIELD_ENCRYPTION_KEYS: K2, FIELD_ENCRYPTION_ACTIVE_KEY_ID: 'k2', BLIND_INDEX_KEYS: B2 };

  let before: TestApp;
  let during: TestApp;
  let db: Client;
  let api: Api;
  let funded: { traveler: TestUser; counterparty: TestUser; trade: { id: string }; travelerWechat: string };
  let selfPaying: PaypalTrade;
  let disputed: PaypalTrade & { disputeId: string };
  let rated: PaypalTrade;
  let paying: { traveler: TestUser; counterparty: TestUser; trade: { id: string }; wallets: { traveler: string; counterparty: string } };
  let sharedWallet: string;
  let oldTraveler: TestUser;
  const idempotent = {
    key: `rotation-${randomBytes(4).toString('hex')}`,
    body: { amountCny: '150.00', price: fixed('7.2400'), paymentMethod: 'paypal' },
  };
  let idempotentFirst: { status: number; body: unknown };
  const idleUsers = new Map<string, TestUser>();
  const CHAT_TEXT = 'Meet me at arrivals, gate B.';
  let receiver: Server;
  const received: { headers: IncomingMessage['headers']; body: string }[] = [];
  let hook: { id: string; secret: string; token: string };
  const RECEIPT = { name: 'omar-receipt.png', contentType: 'image/png', sizeBytes: 10, sha256: 'a'.repeat(64) };

  const run = async (args: string[], hooks = {}) => {
    const lines: string[] = [];
    const code = await rotateKeysCommand(
      { dataSource: during.app.get(DataSource), encryption: during.app.get(FieldEncryption) },
      args,
      { out: (line) => lines.push(line), err: (line) => lines.push(line) },
      hooks,
    );
    return { code, output: lines.join('\n') };
  };
  const keyIdsIn = async (table: string, column: string): Promise<string[]> =>
    (await db.query(`SELECT DISTINCT ${column}_key_id AS k FROM ${table} WHERE ${column}_key_id IS NOT NULL ORDER BY 1`)).rows.map(
      (r) => r.k,
    );

  beforeAll(async () => {
    // The service as deployed before the rotation: the development key dev1 and the single BLIND_INDEX_KEY.
    before = await startTestApp(settings);
    db = new Client({ connectionString: before.databaseUrl });
    await db.connect();
    receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const old = client(before.baseUrl);
    await setReference(before, '7.2400');

    // A live, funded trade: its handle snapshots and the provider's webhook bodies under the old keys.
    const travelerWechat = wechatId();
    const traveler = await withWallet(old, await registerUser(old, 'traveler'), travelerWechat);
    const counterparty = await readyCounterparty(old);
    const request = await old('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny: '500.00', price: fixed('7.2400'), paymentMethod: 'paypal' },
    });
    const accepted = await old('POST', `/v1/requests/${request.body.id}/accept`, { token: counterparty.token, body: {} });
    expect(accepted.status).toBe(201);
    funded = { traveler, counterparty, trade: accepted.body, travelerWechat };
    await fundAtPaypal(old, funded.trade, funded.traveler);
    // A funded trade whose RMB leg is paid mid-rotation: both wallets at the WeChat mock.
    const wallets = { traveler: wechatId(), counterparty: wechatId() };
    await old('POST', '/sandbox/wechat/wallets', { body: { wechatId: wallets.traveler, balanceCny: '0.00' } });
    await old('POST', '/sandbox/wechat/wallets', { body: { wechatId: wallets.counterparty, balanceCny: '5000.00' } });
    const payer = await withWallet(old, await registerUser(old, 'counterparty'), wallets.counterparty);
    await old('PUT', '/v1/me/payout-account', {
      token: payer.token,
      body: { method: 'paypal', paypalEmail: `payer-${randomBytes(3).toString('hex')}@example.com` },
    });
    const payee = await withWallet(old, await registerUser(old, 'traveler'), wallets.traveler);
    const payRequest = await old('POST', '/v1/requests', {
      token: payee.token,
      body: { amountCny: '200.00', price: fixed('7.2400'), paymentMethod: 'paypal' },
    });
    const payTrade = (await old('POST', `/v1/requests/${payRequest.body.id}/accept`, { token: payer.token, body: {} })).body;
    await fundAtPaypal(old, payTrade, payee);
    paying = { traveler: payee, counterparty: payer, trade: payTrade, wallets };
    // A trade whose payer will turn out to be the counterparty's payout account, funded mid-rotation.
    selfPaying = await paypalTrade(old, '100.00');
    // A dispute whose statements (text, and an attachment's file name) are under the old key.
    const toDispute = await paypalTrade(old, '100.00');
    await fundAtPaypal(old, toDispute.trade, toDispute.traveler);
    const opened = await old('POST', `/v1/trades/${toDispute.trade.id}/disputes`, {
      token: toDispute.traveler.token,
      body: { reason: 'rmb_not_received', statement: 'The RMB never arrived.' },
    });
    expect(opened.status).toBe(201);
    const answered = await old('POST', `/v1/disputes/${opened.body.id}/statements`, {
      token: toDispute.counterparty.token,
      body: { text: 'Sent, see the receipt.', attachments: [RECEIPT] },
    });
    expect(answered.status).toBe(201);
    disputed = { ...toDispute, disputeId: opened.body.id };
    // A completed trade whose traveler's rating comment is under the old key.
    rated = await paypalTrade(old, '100.00');
    await fundAtPaypal(old, rated.trade, rated.traveler);
    expect((await old('POST', `/v1/trades/${rated.trade.id}/confirm-receipt`, { token: rated.traveler.token })).status).toBe(200);
    await eventually(async () => (await tradeState(old, rated.trade.id, rated.traveler.token)) === 'completed', 15000);
    const rating = await old('POST', `/v1/trades/${rated.trade.id}/rating`, {
      token: rated.traveler.token,
      body: { score: 4, comment: 'Quick, and kind.' },
    });
    expect(rating.status).toBe(201);
    // A chat message on the funded trade, under the old key.
    const message = await old('POST', `/v1/trades/${funded.trade.id}/messages`, {
      token: funded.traveler.token,
      body: { text: CHAT_TEXT },
    });
    expect(message.status).toBe(201);
    // A traveler whose wallet is indexed under the old blind index key only.
    sharedWallet = wechatId();
    oldTraveler = await withWallet(old, await registerUser(old, 'traveler'), sharedWallet);
    // Users with nothing live, whose wallets may change during the rotation.
    for (let i = 0; i < 4; i += 1) {
      const idle = await readyCounterparty(old, `idle${i}`);
      idleUsers.set(idle.id, idle);
    }
    // A webhook endpoint whose signing secret is under the old key.
    const endpoint = await old('POST', '/v1/webhooks/endpoints', {
      token: oldTraveler.token,
      body: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` },
    });
    expect(endpoint.status).toBe(201);
    hook = { id: endpoint.body.id, secret: endpoint.body.secret, token: oldTraveler.token };
    idempotentFirst = await old('POST', '/v1/requests', {
      token: oldTraveler.token,
      body: idempotent.body,
      headers: { 'idempotency-key': idempotent.key },
    });
    expect(idempotentFirst.status).toBe(201);

    // The restart with both keyrings, new keys active (the database and queues stay).
    await before.app.close();
    during = await startTestApp(rotating, before);
    api = client(during.baseUrl);
  });

  afterAll(async () => {
    receiver?.closeAllConnections();
    await new Promise((resolve) => (receiver ? receiver.close(resolve) : resolve(undefined)));
    await db?.end();
    await during?.close();
    if (before) {
      await dropDatabase(before.databaseUrl);
      await deleteRedisKeys(before.queuePrefix);
    }
  });

  it('rotates every encrypted column the schema has', async () => {
    const columns = await db.query(
      `SELECT table_name AS t, left(column_name, -length('_ciphertext')) AS c FROM information_schema.columns
        WHERE table_schema = 'public' AND column_name LIKE '%\\_ciphertext' ORDER BY 1, 2`,
    );
    const inSchema = columns.rows.map((r) => `${r.t}.${r.c}`);
    expect(ENCRYPTED_COLUMNS.map((c) => `${c.table}.${c.column}`).sort()).toEqual(inSchema);
  });

  it('--check counts the values under each key id, and --strict fails while old ones remain', async () => {
    const check = await run(['--check']);
    expect(check.code).toBe(0);
    expect(check.output).toContain('Active keys: encryption "k2", blind index "b2"');
    expect(check.output).toMatch(/users\.wechat_id: values: dev1 \d+; blind indexes: legacy \d+; to rotate: [1-9]\d*/);
    expect(check.output).toMatch(/trades\.traveler_wechat: values: dev1 5; blind indexes: legacy 5; to rotate: 5/);
    expect(check.output).toMatch(/provider_events\.raw: values: dev1 [1-9]\d*; to rotate: [1-9]/);
    expect(check.output).toMatch(/idempotency_keys\.response: values: dev1 1; to rotate: 1/);
    expect(check.output).toMatch(/dispute_statements\.text: values: dev1 2; to rotate: 2/);
    expect(check.output).toMatch(/dispute_statements\.attachment_names: values: dev1 1; to rotate: 1/);
    expect(check.output).toMatch(/ratings\.comment: values: dev1 1; to rotate: 1/);
    expect(check.output).toMatch(/trade_messages\.text: values: dev1 1; to rotate: 1/);
    expect((await run(['--check', '--strict'])).code).toBe(1);
    // Counts only: never a handle.
    expect(check.output).not.toContain(funded.travelerWechat);
    expect(check.output).not.toContain(selfPaying.payoutEmail);
    expect(check.output).not.toContain(CHAT_TEXT);
  });

  it('refuses a self-trade between a wallet indexed under the old blind index key and the same wallet under the new one', async () => {
    const encryption = during.app.get(FieldEncryption);
    const walletOf = async (id: string) =>
      (
        await db.query(
          `SELECT wechat_id_ciphertext AS ciphertext, wechat_id_key_id AS "keyId", wechat_id_index AS index FROM users WHERE id = $1`,
          [id],
        )
      ).rows[0] as { ciphertext: string; keyId: string; index: string };

    // The traveler indexed under the old key, the counterparty under the new one.
    const counterparty = await withWallet(api, await registerUser(api, 'counterparty'), sharedWallet.toUpperCase());
    await api('PUT', '/v1/me/payout-account', {
      token: counterparty.token,
      body: { method: 'paypal', paypalEmail: `same-${randomBytes(3).toString('hex')}@example.com` },
    });
    expect((await walletOf(oldTraveler.id)).index).toMatch(/^[0-9a-f]{64}$/);
    expect((await walletOf(counterparty.id)).index).toMatch(/^b2:[0-9a-f]{64}$/);
    const request = await api('POST', '/v1/requests', {
      token: oldTraveler.token,
      body: { amountCny: '100.00', price: fixed('7.2400'), paymentMethod: 'paypal' },
    });
    const accept = await api('POST', `/v1/requests/${request.body.id}/accept`, { token: counterparty.token, body: {} });
    expect(accept.status).toBe(409);
    expect(accept.body.code).toBe('self_trade');

    // The other way round: the counterparty indexed under the old key, the traveler under the new one.
    const theirs = await walletOf(selfPaying.counterparty.id);
    expect(theirs.index).toMatch(/^[0-9a-f]{64}$/);
    const newTraveler = await withWallet(api, await registerUser(api, 'traveler'), encryption.decrypt(theirs, HANDLE_CONTEXT.wechatId));
    expect((await walletOf(newTraveler.id)).index).toMatch(/^b2:/);
    const second = await api('POST', '/v1/requests', {
      token: newTraveler.token,
      body: { amountCny: '100.00', price: fixed('7.2400'), paymentMethod: 'paypal' },
    });
    const reverse = await api('POST', `/v1/requests/${second.body.id}/accept`, { token: selfPaying.counterparty.token, body: {} });
    expect(reverse.status).toBe(409);
    expect(reverse.body.code).toBe('self_trade');

    // Different wallets under different keys still trade.
    const other = await api('POST', `/v1/requests/${second.body.id}/accept`, { token: funded.counterparty.token, body: {} });
    expect(other.status).toBe(201);
  });

  it('finds a self-paying PayPal payer by an old snapshot index while the new key is active', async () => {
    const funding = await api('POST', `/v1/trades/${selfPaying.trade.id}/funding`, { token: selfPaying.traveler.token, body: {} });
    expect(funding.status).toBe(201);
    await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, { body: { payerEmail: selfPaying.payoutEmail } });
    await eventually(async () => (await tradeState(api, selfPaying.trade.id, selfPaying.traveler.token)) === 'cancelled');
    const events = (await api('GET', `/v1/trades/${selfPaying.trade.id}/events`, { token: selfPaying.traveler.token })).body.data;
    expect(events.at(-1)).toMatchObject({ toState: 'cancelled', detail: { reason: 'self_trade' } });
  });

  it('verifies a WeChat payout against wallets snapshotted under the old blind index key', async () => {
    const sent = await api('POST', '/sandbox/wechat/transfers', {
      body: { fromWechatId: paying.wallets.counterparty, toWechatId: paying.wallets.traveler, amountCny: '200.00' },
    });
    expect(sent.status).toBe(201);
    const reported = await api('POST', `/v1/trades/${paying.trade.id}/payout`, {
      token: paying.counterparty.token,
      body: { wechatTransferId: sent.body.transferId },
    });
    expect(reported.body.state).toBe('payout_sent');
    // Released (the USD paid out to the PayPal email snapshotted under dev1), not disputed.
    await eventually(async () => (await tradeState(api, paying.trade.id, paying.traveler.token)) === 'completed', 15000);
  });

  it('stops after one batch when told, and a second run finishes', async () => {
    const first = await run(['--batch-size', '2', '--max-batches', '1']);
    expect(first.code).toBe(1);
    expect(first.output).toContain('Stopped after 1 batch(es): run again to go on.');
    expect(first.output).toContain('users.wechat_id: 2 rotated');
    expect(await keyIdsIn('users', 'wechat_id')).toEqual(['dev1', 'k2']);

    // A wallet changed while its row is in a batch, between the batch's read and its write: whether the write
    // waits for the batch's row locks or lands first, the new wallet is what stays.
    const changed = wechatId();
    let writer: Promise<{ status: number }> | undefined;
    let changedUser: TestUser | undefined;
    const second = await run(['--batch-size', '3'], {
      whileLocked: async (column: string, ids: unknown[][]) => {
        if (writer || column !== 'users.wechat_id') return;
        changedUser = ids.map(([id]) => idleUsers.get(id as string)).find((u) => u !== undefined);
        if (!changedUser) return;
        let written = false;
        writer = api('PUT', '/v1/me/wechat-wallet', { token: changedUser.token, body: { wechatId: changed } }).finally(() => {
          written = true;
        });
        await eventually(async () => {
          if (written) return true;
          const waiting = await db.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock' AND (query ILIKE '%UPDATE%users%' OR query ILIKE '%FROM users%FOR UPDATE%')`,
          );
          return waiting.rows[0].n > 0;
        });
      },
    });
    expect(changedUser).toBeDefined();
    expect((await writer!).status).toBe(200);
    expect(second.code).toBe(0);
    expect(second.output).toContain('Every value is under the active keys.');

    const row = (
      await db.query(`SELECT wechat_id_ciphertext, wechat_id_key_id, wechat_id_index FROM users WHERE id = $1`, [changedUser!.id])
    ).rows[0];
    const encryption = during.app.get(FieldEncryption);
    expect(encryption.decrypt({ ciphertext: row.wechat_id_ciphertext, keyId: row.wechat_id_key_id }, HANDLE_CONTEXT.wechatId)).toBe(
      changed,
    );
    expect(encryption.matchesBlindIndex(changed, HANDLE_CONTEXT.wechatId, row.wechat_id_index)).toBe(true);

    const check = await run(['--check', '--strict']);
    expect(check.code).toBe(0);
    expect(check.output).not.toMatch(/dev1|legacy/);
    for (const column of ENCRYPTED_COLUMNS) expect(await keyIdsIn(column.table, column.column)).toEqual(['k2']);
    // A run with nothing left writes nothing.
    expect((await run([])).output).toContain('Rotated 0 value(s).');
  });

  it('reads every value through HTTP once the old keys are gone', async () => {
    const after = await startTestApp(retired, before);
    try {
      const fresh = client(after.baseUrl);
      // The funded trade's snapshot: the counterparty sees the traveler's WeChat id.
      const view = await fresh('GET', `/v1/trades/${funded.trade.id}`, { token: funded.counterparty.token });
      expect(view.body.state).toBe('funded');
      expect(view.body.travelerWechatId).toBe(funded.travelerWechat);
      expect((await fresh('GET', '/v1/me', { token: funded.traveler.token })).body).toMatchObject({
        wechatWalletSet: true,
      });
      expect((await fresh('GET', '/v1/me', { token: funded.counterparty.token })).body).toMatchObject({
        wechatWalletSet: true,
        payoutAccount: { method: 'paypal' },
      });
      // The stored first response replays.
      const replay = await fresh('POST', '/v1/requests', {
        token: oldTraveler.token,
        body: idempotent.body,
        headers: { 'idempotency-key': idempotent.key },
      });
      expect(replay.status).toBe(201);
      expect(replay.body).toEqual(idempotentFirst.body);
      // The dispute's statements read back, re-encrypted under the new key.
      const dispute = await fresh('GET', `/v1/disputes/${disputed.disputeId}`, { token: disputed.traveler.token });
      expect(dispute.status).toBe(200);
      expect(dispute.body.statements).toEqual([
        expect.objectContaining({ text: 'The RMB never arrived.', erased: false, attachments: [] }),
        expect.objectContaining({ text: 'Sent, see the receipt.', erased: false, attachments: [RECEIPT] }),
      ]);
      // The rating's comment reads back, re-encrypted under the new key.
      const ratings = await fresh('GET', `/v1/users/${rated.counterparty.id}/ratings`, { token: rated.traveler.token });
      expect(ratings.body.data).toEqual([expect.objectContaining({ score: 4, comment: 'Quick, and kind.', raterRole: 'traveler' })]);
      // The chat message reads back, re-encrypted under the new key.
      const messages = await fresh('GET', `/v1/trades/${funded.trade.id}/messages`, { token: funded.counterparty.token });
      expect(messages.status).toBe(200);
      expect(messages.body.data).toEqual([expect.objectContaining({ text: CHAT_TEXT, erased: false })]);
      // The self-trade check still holds between rotated wallets.
      const request = await fresh('POST', '/v1/requests', {
        token: oldTraveler.token,
        body: { amountCny: '100.00', price: fixed('7.2400'), paymentMethod: 'paypal' },
      });
      const counterparty = await readyCounterparty(fresh, 'after');
      await withWallet(fresh, counterparty, sharedWallet);
      expect((await fresh('POST', `/v1/requests/${request.body.id}/accept`, { token: counterparty.token, body: {} })).body.code).toBe(
        'self_trade',
      );
      // And a trade from the rotated traveler's handle opens, its snapshot under the new keys. (Not funded here:
      // provider work started by this instance could still be under way when it stops.)
      const other = await readyCounterparty(fresh, 'other');
      const open = await fresh('POST', `/v1/requests/${request.body.id}/accept`, { token: other.token, body: {} });
      expect(open.status).toBe(201);
      const snapshot = (
        await db.query(
          `SELECT traveler_wechat_ciphertext AS ciphertext, traveler_wechat_key_id AS "keyId", traveler_wechat_index AS index FROM trades WHERE id = $1`,
          [open.body.id],
        )
      ).rows[0];
      expect(snapshot.keyId).toBe('k2');
      expect(after.app.get(FieldEncryption).decrypt(snapshot, HANDLE_CONTEXT.wechatId)).toBe(sharedWallet);
      expect(after.app.get(FieldEncryption).matchesBlindIndex(sharedWallet, HANDLE_CONTEXT.wechatId, snapshot.index)).toBe(true);
      // The webhook endpoint's secret, re-encrypted, still signs its deliveries.
      const ping = await fresh('POST', `/v1/webhooks/endpoints/${hook.id}/ping`, { token: hook.token });
      expect(ping.status).toBe(202);
      // The ping's delivery, among the others the endpoint gets (the trade just opened is the traveler's event too).
      const delivered = await eventually(async () => received.find((delivery) => delivery.headers['x-event-id'] === ping.body.eventId));
      expect(verifyPayload(hook.secret, delivered.headers['x-signature'] as string, delivered.body)).toEqual({ ok: true });
    } finally {
      await after.close();
    }
  });
});
