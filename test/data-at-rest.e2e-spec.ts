import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { DEV_JWT_SECRET } from '../src/config';
import { deploymentKeyPattern } from '../src/queues/queue-keys';
import { createOperator, registerUser, TestUser } from './support/factories';
import { client, Api } from './support/http';
import { fixed, wechatId, withWallet } from './support/market';
import { eventually, startTestApp, TestApp } from './support/test-app';

/**
 * What an attacker who steals a database dump, the logs or the queues' Redis keys would find: after a whole trade
 * and a whole dispute, none of them holds a payment handle, a password, a token, an API key or a secret in clear.
 * The mocks' own tables and queues are excluded: they stand in for PayPal's, the bank's and WeChat's systems, which
 * do know their customers' addresses.
 */
describe('data at rest and in logs', () => {
  let test: TestApp;
  let api: Api;
  let operator: TestUser;
  const jwtSecret = `at-rest-jwt-secret-${randomUUID()}`;

  beforeAll(async () => {
    test = await startTestApp({
      // Every line a request or job writes, so nothing is hidden by the level.
      LOG_LEVEL: 'debug',
      JWT_SECRET: jwtSecret,
      // A webhook receiver on loopback.
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      RATE_FEED_WALK_BPS: '0',
      REFERENCE_RATE_REFRESH_EVERY_MS: '3600000',
    });
    api = client(test.baseUrl);
    operator = await createOperator(test, api);
    await api('PUT', '/sandbox/faults', { body: { provider: 'rates', down: false } });
  });

  afterAll(async () => {
    await test?.close();
  });

  const state = async (tradeId: string) => (await api('GET', `/v1/trades/${tradeId}`, { token: operator.token })).body.state;

  /** Two parties with every handle on file, and a PayPal trade between them funded from the traveler's PayPal address. */
  async function fundedTrade(secrets: string[]) {
    const handles = {
      travelerWechat: wechatId(),
      counterpartyWechat: wechatId(),
      payoutEmail: `payout-${randomUUID().slice(0, 8)}@example.com`,
      travelerPaypal: `payer-${randomUUID().slice(0, 8)}@example.com`,
    };
    const traveler = await withWallet(api, await registerUser(api, 'traveler'), handles.travelerWechat);
    const counterparty = await withWallet(api, await registerUser(api, 'counterparty'), handles.counterpartyWechat);
    await api('PUT', '/v1/me/payout-account', { token: counterparty.token, body: { method: 'paypal', paypalEmail: handles.payoutEmail } });
    const key = await api('POST', '/v1/me/api-keys', { token: counterparty.token, body: {} });
    expect(key.status).toBe(201);
    secrets.push(
      handles.travelerWechat,
      handles.counterpartyWechat,
      handles.payoutEmail,
      handles.travelerPaypal,
      traveler.password,
      counterparty.password,
      traveler.token,
      counterparty.token,
      key.body.key,
    );
    await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: handles.travelerWechat, balanceCny: '0.00' } });
    await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: handles.counterpartyWechat, balanceCny: '5000.00' } });
    const request = await api('POST', '/v1/requests', {
      token: traveler.token,
      body: { amountCny: '1000.00', price: fixed('7.2400'), paymentMethod: 'paypal' },
    });
    // The counterparty works through its API key, as a bot would.
    const trade = (await api('POST', `/v1/requests/${request.body.id}/accept`, { apiKey: key.body.key, body: {} })).body;
    const funding = await api('POST', `/v1/trades/${trade.id}/funding`, { token: traveler.token, body: {} });
    await api('POST', `/sandbox/paypal/orders/${funding.body.orderId}/approve`, { body: { payerEmail: handles.travelerPaypal } });
    await eventually(async () => (await state(trade.id)) === 'funded', 20000);
    const seen = await api('GET', `/v1/trades/${trade.id}`, { apiKey: key.body.key });
    expect(seen.body.travelerWechatId).toBe(handles.travelerWechat);
    return { traveler, counterparty, apiKey: key.body.key as string, trade, handles };
  }

  it('keeps handles, passwords, tokens, keys and statement texts out of the database dump, the logs and the job queues', async () => {
    const secrets: string[] = [jwtSecret, DEV_JWT_SECRET, operator.password, operator.token];

    // A whole trade: funded, the RMB sent and reported, verified, the USD released and paid out.
    const completed = await fundedTrade(secrets);
    const sent = await api('POST', '/sandbox/wechat/transfers', {
      body: { fromWechatId: completed.handles.counterpartyWechat, toWechatId: completed.handles.travelerWechat, amountCny: '1000.00' },
    });
    expect(sent.status).toBe(201);
    const reported = await api('POST', `/v1/trades/${completed.trade.id}/payout`, {
      apiKey: completed.apiKey,
      headers: { 'idempotency-key': randomUUID() },
      body: { wechatTransferId: sent.body.transferId },
    });
    expect(reported.body.state).toBe('payout_sent');
    await eventually(async () => (await state(completed.trade.id)) === 'completed', 30000);
    // Its traveler rates the counterparty, in their own words (the stored idempotent response holds them too).
    const ratingComment = `Kind, and quick to send ${randomUUID()}`;
    const rated = await api('POST', `/v1/trades/${completed.trade.id}/rating`, {
      token: completed.traveler.token,
      headers: { 'idempotency-key': randomUUID() },
      body: { score: 5, comment: ratingComment },
    });
    expect([rated.status, rated.body.comment]).toEqual([201, ratingComment]);

    // A webhook endpoint (its secret shown once, the creation's stored response replayable), pinged and delivered.
    const receiver = createServer((request, response) => request.resume().on('end', () => response.writeHead(200).end()));
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = await api('POST', '/v1/webhooks/endpoints', {
        apiKey: completed.apiKey,
        headers: { 'idempotency-key': randomUUID() },
        body: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` },
      });
      expect(endpoint.status).toBe(201);
      secrets.push(endpoint.body.secret);
      const ping = await api('POST', `/v1/webhooks/endpoints/${endpoint.body.id}/ping`, { apiKey: completed.apiKey });
      await eventually(async () => {
        const log = await api('GET', `/v1/webhooks/deliveries?endpointId=${endpoint.body.id}`, { apiKey: completed.apiKey });
        return log.body.data[0]?.id === ping.body.id && log.body.data[0].status === 'delivered';
      });
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }

    // A whole dispute: opened with a statement, answered, assigned and settled by a split.
    const disputed = await fundedTrade(secrets);
    const travelerStatement = `The RMB never arrived ${randomUUID()}`;
    const counterpartyStatement = `I sent it from my other wallet ${randomUUID()}`;
    const operatorNote = `Split after reading both ${randomUUID()}`;
    const opened = await api('POST', `/v1/trades/${disputed.trade.id}/disputes`, {
      token: disputed.traveler.token,
      body: { reason: 'rmb_not_received', statement: travelerStatement },
    });
    expect(opened.status).toBe(201);
    const attachmentName = `omar-receipt-${randomUUID()}.png`;
    const answered = await api('POST', `/v1/disputes/${opened.body.id}/statements`, {
      token: disputed.counterparty.token,
      body: {
        text: counterpartyStatement,
        attachments: [{ name: attachmentName, contentType: 'image/png', sizeBytes: 10, sha256: 'a'.repeat(64) }],
      },
    });
    expect(answered.status).toBe(201);
    // Both parties read both statements back, decrypted.
    const read = await api('GET', `/v1/disputes/${opened.body.id}`, { token: disputed.traveler.token });
    expect(read.body.statements).toEqual([
      expect.objectContaining({ text: travelerStatement, erased: false, attachments: [] }),
      expect.objectContaining({
        text: counterpartyStatement,
        erased: false,
        attachments: [expect.objectContaining({ name: attachmentName })],
      }),
    ]);
    // The parties' chat about it, read by both and by the operator (an audited read): encrypted at rest, never logged.
    const chat = [`Where is the RMB? ${randomUUID()}`, `Sent from my other wallet ${randomUUID()}`];
    for (const [i, party] of [disputed.traveler, disputed.counterparty].entries()) {
      const sent = await api('POST', `/v1/trades/${disputed.trade.id}/messages`, { token: party.token, body: { text: chat[i] } });
      expect(sent.status).toBe(201);
    }
    for (const viewer of [disputed.traveler, disputed.counterparty, operator]) {
      const messages = await api('GET', `/v1/trades/${disputed.trade.id}/messages`, { token: viewer.token });
      expect(messages.body.data.map((m: { text: string }) => m.text)).toEqual(chat);
    }
    expect((await api('POST', `/v1/admin/disputes/${opened.body.id}/assign`, { token: operator.token, body: {} })).status).toBe(200);
    const resolved = await api('POST', `/v1/admin/disputes/${opened.body.id}/resolve`, {
      token: operator.token,
      body: { outcome: 'split', travelerUsd: '38.12', counterpartyUsd: '100.00', note: operatorNote },
    });
    expect(resolved.status).toBe(200);
    await eventually(async () => (await state(disputed.trade.id)) === 'settled_split', 30000);

    const logs = test.readLog();
    expect(logs.length).toBeGreaterThan(1000);
    // The statements are the parties' own words: kept for the dispute, never logged.
    expect(findings(logs, [...secrets, travelerStatement, counterpartyStatement, operatorNote, ratingComment, ...chat])).toEqual([]);

    const dump = execFileSync(
      'pg_dump',
      [
        '--data-only',
        '--no-owner',
        '--exclude-table=paypal_mock_*',
        '--exclude-table=bank_mock_*',
        '--exclude-table=wechat_mock_*',
        test.databaseUrl,
      ],
      { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
    );
    expect(dump).toContain(completed.trade.id);
    // The parties' statements, their attachments' file names, rating comments and messages are personal text:
    // encrypted at rest. (The operator's note is the operator's own words about the case, kept in clear for the audit.)
    expect(tablesHolding(dump, [...secrets, travelerStatement, counterpartyStatement, attachmentName, ratingComment, ...chat])).toEqual([]);

    const queues = await redisDump(test.queuePrefix);
    expect(queues).toContain(completed.trade.id);
    expect(findings(queues, [...secrets, ...chat])).toEqual([]);
  });

  /** Which of the values appear in the text, each named by its position only (a failing test must not print them). */
  function findings(text: string, values: string[]): string[] {
    return values.flatMap((value, index) => (text.includes(value) ? [`secret #${index} (${value.length} characters)`] : []));
  }

  /**
   * Which tables of a data-only dump hold which of the values (by position). The mocks queue their own callbacks
   * through the service's outbox (PayPal's event names the payout's receiver, as PayPal's does): those rows are the
   * provider's data, left out as its tables are.
   */
  function tablesHolding(dump: string, values: string[]): string[] {
    return dump.split(/^COPY /m).flatMap((section) => {
      const table = section.slice(0, section.indexOf(' '));
      const rows = section.split('\n').filter((row) => !(table === 'public.outbox' && /\tsandbox-/.test(row)));
      return findings(rows.join('\n'), values).map((found) => `${table}: ${found}`);
    });
  }

  /** Every string and hash value of the deployment's keys (its own and its queues'), except the mocks' own queues. */
  async function redisDump(prefix: string): Promise<string> {
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      const parts: string[] = [];
      let cursor = '0';
      for (let round = 0; round < 10000; round++) {
        const [next, keys] = await redis.scan(cursor, 'MATCH', deploymentKeyPattern(prefix), 'COUNT', 500);
        for (const key of keys) {
          if (/:sandbox-/.test(key)) continue;
          const type = await redis.type(key);
          if (type === 'hash') parts.push(key, JSON.stringify(await redis.hgetall(key)));
          else if (type === 'string') parts.push(key, (await redis.get(key)) ?? '');
          else if (type === 'list') parts.push(key, ...(await redis.lrange(key, 0, -1)));
          else if (type === 'zset') parts.push(key, ...(await redis.zrange(key, 0, -1)));
          else if (type === 'stream') parts.push(key, JSON.stringify(await redis.xrange(key, '-', '+')));
        }
        cursor = next;
        if (cursor === '0') break;
      }
      return parts.join('\n');
    } finally {
      redis.disconnect();
    }
  }
});
