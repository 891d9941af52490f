import { Client } from 'pg';
import { startSandboxProcess, serviceWithMocksApart, SandboxProcess } from './support/sandbox-process';
import { freePort, startTestApp, TestApp, eventually } from './support/test-app';
import { fundTrade, newTrade } from './support/trades';

/**
 * The provider mocks as their own process (`npm run start:sandbox`) with their own database, and the service pointed
 * at them by `SANDBOX_MOCKS_URL`: a whole PayPal trade goes through, funded by the mock's webhook and the RMB leg
 * verified with the WeChat mock's signed API, and the mocks' rows are in their database only.
 */
describe('the provider mocks in a process of their own', () => {
  let sandbox: SandboxProcess | undefined;
  let test: TestApp | undefined;
  let serviceDb: Client;
  let mocksDb: Client;

  beforeAll(async () => {
    const mocksPort = await freePort();
    // The service starts first (the mocks need its address); it calls the mocks only once a trade needs them. The
    // mocks keep their default delays (PayPal settles a payout item after 2 s): the in-process suites shorten them.
    test = await startTestApp({ SANDBOX_MOCKS_URL: `http://127.0.0.1:${mocksPort}` });
    sandbox = await startSandboxProcess(mocksPort, test.baseUrl);
    serviceDb = new Client({ connectionString: test.databaseUrl });
    mocksDb = new Client({ connectionString: sandbox.databaseUrl });
    await serviceDb.connect();
    await mocksDb.connect();
  }, 120000);

  afterAll(async () => {
    await serviceDb?.end();
    await mocksDb?.end();
    await sandbox?.stop();
    await test?.close();
  }, 60000);

  it('prints its own start lines: its database, its workers, where it listens and where its callbacks go', () => {
    const start = sandbox!
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; context?: string })
      .filter((line) => line.context === 'Start')
      .map((line) => line.msg);
    expect(start).toEqual([
      expect.stringMatching(/^Database yb_mocks_\w+ created and migrated \(\d+ migrations\)$/),
      'Workers: 3 queues, 8 jobs at once each, and the outbox relay (sandbox-webhooks, sandbox-bank, sandbox-wechat)',
      `Yuanbridge sandbox listening on ${sandbox!.baseUrl} (PayPal, WeChat Pay and bank mocks under ${sandbox!.baseUrl}/sandbox; callbacks to ${test!.baseUrl})`,
    ]);
    expect(sandbox!.stdout()).not.toContain('Mapped {');
    expect(sandbox!.stderr()).toBe('');
  });

  it('serves the mocks there only: the service mounts none', async () => {
    expect((await fetch(`${test!.baseUrl}/sandbox/wechat/public-key`)).status).toBe(404);
    expect((await fetch(`${sandbox!.baseUrl}/sandbox/wechat/public-key`)).status).toBe(200);
  });

  it('runs a whole PayPal trade through the mocks apart, their rows in their own database', async () => {
    const api = serviceWithMocksApart(test!.baseUrl, sandbox!.baseUrl);
    const { traveler, counterparty, trade, handles } = await fundTrade(api, await newTrade(api), 30000);

    await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: handles.travelerWechat, balanceCny: '0.00' } });
    await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: handles.counterpartyWechat, balanceCny: '1000.00' } });
    const transfer = await api('POST', '/sandbox/wechat/transfers', {
      body: { fromWechatId: handles.counterpartyWechat, toWechatId: handles.travelerWechat, amountCny: '1000.00' },
    });
    expect(transfer.status).toBe(201);
    const reported = await api('POST', `/v1/trades/${trade.id}/payout`, {
      token: counterparty.token,
      body: { wechatTransferId: transfer.body.transferId },
    });
    expect(reported.body.state).toBe('payout_sent');
    await eventually(async () => (await api('GET', `/v1/trades/${trade.id}`, { token: traveler.token })).body.state === 'completed', 30000);

    // The mock's webhooks reached the service: the approval (funded) and, after the default payout delay, the payout
    // item's outcome, which settles the payout step.
    await eventually(async () => {
      const steps = await serviceDb.query(`SELECT status FROM settlement_steps WHERE trade_id = $1 AND step = 'payout'`, [trade.id]);
      return steps.rows.length > 0 && steps.rows.every((row) => row.status === 'done');
    }, 30000);
    const received = await eventually(async () => {
      const found = await serviceDb.query(`SELECT DISTINCT event_type FROM provider_events ORDER BY event_type`);
      const types = found.rows.map((row) => row.event_type as string);
      return types.includes('PAYMENT.PAYOUTS-ITEM.SUCCEEDED') && types;
    }, 30000);
    expect(received).toEqual(expect.arrayContaining(['CHECKOUT.ORDER.APPROVED', 'PAYMENT.PAYOUTS-ITEM.SUCCEEDED']));
    const orders = `SELECT count(*)::int AS n FROM paypal_mock_orders`;
    expect((await mocksDb.query(orders)).rows[0].n).toBe(1);
    expect((await serviceDb.query(orders)).rows[0].n).toBe(0);
  }, 90000);
});
