import { Wechatpay } from 'wechatpay-axios-plugin';
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, randomUUID } from 'node:crypto';
import { DEV_WECHATPAY_APIV3_KEY, DEV_WECHATPAY_MCHID, DEV_WECHATPAY_MERCHANT_SERIAL } from '../src/config';
import { WechatMerchantKey } from '../src/payments/providers/wechat/wechat-merchant-key';
import { WechatPayClient } from '../src/payments/providers/wechat/wechatpay.client';
import {
  aesGcmEncrypt,
  authorizationHeader,
  nonce,
  requestMessage,
  responseMessage,
  rsaSign,
  rsaVerify,
} from '../src/payments/providers/wechat/wechatpay-crypto';
import { QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { client } from './support/http';
import { completedJobResult, eventually, startTestApp, TestApp } from './support/test-app';
import { settling, fastBank } from './support/settings';
import { useTestApp } from './support/use-test-app';
import { fundTrade, newTrade, tradeState } from './support/trades';
import { paypalPayoutItems } from './support/paypal';

/**
 * WeChat Pay's public-key mode (merchants onboarded since late 2024): the mock signs its answers and notifications
 * with the WeChat Pay public key's pair and `Wechatpay-Serial: PUB_KEY_ID_…`, and the platform verifies them with
 * that key alone, never needing `/v3/certificates`; another key, or an id it was not given, is refused.
 */
describe('WeChat Pay public-key mode (HTTP)', () => {
  const { test, api, db, expectClean } = useTestApp(
    {
      ...settling,
      ...fastBank,
      VERIFY_TIMEOUT_MS: '1500',
      WECHAT_MOCK_NOTIFY_SCHEDULE_MS: '100,100',
      WECHAT_MOCK_SIGNING: 'public_key',
    },
    { reference: '7.2400' },
  );
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const UNKNOWN_KEY_ID = 'PUB_KEY_ID_0119000000010000000000000000';

  /** The public key and its id, as the merchant downloads them from the merchant platform. */
  const downloaded = async (): Promise<{ publicKeyId: string; publicKey: string; signing: string }> =>
    (await api('GET', '/sandbox/wechat/public-key')).body;
  /** The mock's private half of the public key (WeChat's side), to sign notifications as WeChat would. */
  const wechatPrivateKey = async (): Promise<KeyObject> =>
    createPrivateKey(
      (await db.query(`SELECT private_key_pem FROM sandbox_keys WHERE name = 'WECHATPAY-PUBLIC-KEY-1'`)).rows[0].private_key_pem,
    );
  const storedEvents = async () =>
    (await db.query(`SELECT event_id FROM provider_events WHERE provider = 'wechat'`)).rows.map((r: { event_id: string }) => r.event_id);

  /** A wallet transfer notification as WeChat sends it: the resource encrypted with the APIv3 key. */
  const notificationBody = (id = randomUUID()) =>
    JSON.stringify({
      id,
      create_time: '2026-01-01T12:00:01+08:00',
      resource_type: 'encrypt-resource',
      event_type: 'WALLET_TRANSFER.SUCCESS',
      summary: '转账成功',
      resource: {
        original_type: 'wallet_transfer',
        ...aesGcmEncrypt(
          DEV_WECHATPAY_APIV3_KEY,
          JSON.stringify({
            transfer_id: `10000${Date.now()}`,
            from_wechat_id: 'wx_a',
            to_wechat_id: 'wx_b',
            amount: 100,
            state: 'SUCCESS',
          }),
          'wallet_transfer',
        ),
      },
    });
  /** Posts a notification to the platform (this suite's, or `app`'s), signed with `key` under `serial`. */
  const notify = (app: TestApp | undefined, body: string, key: KeyObject, serial: string) => {
    const timestamp = Math.floor(Date.now() / 1000).toString();
    const nonceStr = nonce();
    return (app ? client(app.baseUrl) : api)('POST', '/v1/provider-webhooks/wechat', {
      rawBody: body,
      headers: {
        'content-type': 'application/json',
        'wechatpay-timestamp': timestamp,
        'wechatpay-nonce': nonceStr,
        'wechatpay-serial': serial,
        'wechatpay-signature': rsaSign(key, responseMessage(timestamp, nonceStr, body)),
        'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
      },
    });
  };

  const send = async (from: string, to: string, amountCny: string) => {
    const sent = await api('POST', '/sandbox/wechat/transfers', { body: { fromWechatId: from, toWechatId: to, amountCny } });
    expect(sent.status).toBe(201);
    return sent.body.transferId as string;
  };

  it('offers the public key and its id for download, and signs its v3 answers with it under that id', async () => {
    const { publicKeyId, publicKey, signing } = await downloaded();
    expect(signing).toBe('public_key');
    expect(publicKeyId).toMatch(/^PUB_KEY_ID_011900000001\d{16}$/);
    expect(createPublicKey(publicKey).asymmetricKeyType).toBe('rsa');
    expect(await downloaded()).toEqual({ publicKeyId, publicKey, signing });

    // v3 queries signed by the merchant, as the platform sends them.
    const merchantKey = test.app.get(WechatMerchantKey).privateKey();
    const signedGet = (path: string) => {
      const timestamp = Math.floor(Date.now() / 1000).toString();
      const nonceStr = nonce();
      const authorization = authorizationHeader({
        mchid: DEV_WECHATPAY_MCHID,
        nonce_str: nonceStr,
        timestamp,
        serial_no: DEV_WECHATPAY_MERCHANT_SERIAL,
        signature: rsaSign(merchantKey, requestMessage('GET', path, timestamp, nonceStr, '')),
      });
      return fetch(`${test.baseUrl}${path}`, { headers: { authorization } });
    };
    const since = encodeURIComponent(new Date(0).toISOString());
    const listed = await signedGet(`/sandbox/wechat/v3/wallet-transfers?from_wechat_id=wx_a&to_wechat_id=wx_b&since=${since}`);
    expect(listed.status).toBe(200);
    const raw = await listed.text();
    expect(JSON.parse(raw)).toEqual({ data: [] });
    expect(listed.headers.get('wechatpay-serial')).toBe(publicKeyId);
    const signed = responseMessage(listed.headers.get('wechatpay-timestamp')!, listed.headers.get('wechatpay-nonce')!, raw);
    expect(rsaVerify(createPublicKey(publicKey), signed, listed.headers.get('wechatpay-signature')!)).toBe(true);
    expect(rsaVerify(stranger.publicKey, signed, listed.headers.get('wechatpay-signature')!)).toBe(false);

    // The certificate list still answers, as it does for such merchants: the platform does not need it.
    const certificates = await signedGet('/sandbox/wechat/v3/certificates');
    expect(certificates.status).toBe(200);
    expect(certificates.headers.get('wechatpay-serial')).toBe(publicKeyId);
  });

  it('answers wechatpay-axios-plugin holding the public key under its id (certs: {PUB_KEY_ID_…: pub_key.pem}), not one holding another key', async () => {
    const { publicKeyId, publicKey } = await downloaded();
    const merchantKeyPem = test.app.get(WechatMerchantKey).privateKey().export({ type: 'pkcs8', format: 'pem' }).toString();
    /** Built synchronously: the client is a Proxy whose every property is an API path, `then` included. */
    const wxpay = (certificate: string) =>
      new Wechatpay({
        baseURL: `${test.baseUrl}/sandbox/wechat/`,
        mchid: DEV_WECHATPAY_MCHID,
        serial: DEV_WECHATPAY_MERCHANT_SERIAL,
        privateKey: merchantKeyPem,
        certs: { [publicKeyId]: certificate },
      });
    const wallets = [`wxpkfrom${Date.now()}`, `wxpkto${Date.now()}`];
    await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: wallets[0], balanceCny: '10.00' } });
    await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: wallets[1], balanceCny: '0.00' } });
    const transferId = await send(wallets[0], wallets[1], '2.50');

    const one = await wxpay(publicKey).v3.walletTransfers._transfer_id_.get({ transfer_id: transferId });
    expect(one.data).toMatchObject({ transfer_id: transferId, amount: 250, state: 'SUCCESS' });
    expect(one.headers['wechatpay-serial']).toBe(publicKeyId);
    const strangerPem = stranger.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await expect(wxpay(strangerPem).v3.walletTransfers._transfer_id_.get({ transfer_id: transferId })).rejects.toThrow(
      /Verify the response's data with/,
    );
  });

  it('verifies the reported transfer and completes the trade with the public key alone, /v3/certificates down', async () => {
    await api('PUT', '/sandbox/faults', { body: { provider: 'wechat', down: true, paths: ['/v3/certificates'] } });
    try {
      const opened = await newTrade(api, {});
      const { travelerWechat: travelerWallet, counterpartyWechat: counterpartyWallet } = opened.handles;
      await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: travelerWallet, balanceCny: '0.00' } });
      await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: counterpartyWallet, balanceCny: '5000.00' } });
      const { traveler, counterparty, trade, payoutEmail } = await fundTrade(api, opened);
      const before = new Set(await storedEvents());
      const transferId = await send(counterpartyWallet, travelerWallet, '1000.00');
      const reported = await api('POST', `/v1/trades/${trade.id}/payout`, {
        token: counterparty.token,
        body: { wechatTransferId: transferId },
      });
      expect(reported.body.state).toBe('payout_sent');
      await eventually(async () => (await tradeState(api, trade.id, traveler.token)) === 'completed', 15000);

      const events = (await api('GET', `/v1/trades/${trade.id}/events`, { token: traveler.token })).body.data;
      expect(events.find((e: { toState: string }) => e.toState === 'releasing')).toMatchObject({
        actor: { kind: 'system', id: null },
        detail: { verified: true, wechatTransferId: transferId },
      });
      expect((await api('GET', `/sandbox/wechat/wallets/${travelerWallet}`)).body.balanceCny).toBe('1000.00');
      const payout = await paypalPayoutItems(api, `yb-${trade.id}-payout`);
      expect(payout.map(({ receiver, amountCents, status }) => ({ receiver, amountCents, status }))).toEqual([
        { receiver: payoutEmail, amountCents: '13674', status: 'SUCCESS' },
      ]);
      // The transfer's notification, signed under the public key id, was accepted (2xx) at its first attempt and
      // stored. Sent right after the transfer's commit it becomes no job; if it became its job anyway (the send ran out
      // of time), the job is that first attempt (`attempt` 0) and took the 2xx. A refusal would have queued the job as
      // attempt 1, and its refusal the next attempt.
      const [eventId] = await eventually(async () => {
        const fresh = (await storedEvents()).filter((id) => !before.has(id));
        return fresh.length > 0 && fresh;
      });
      const deliveries = test.app.get(QueueRegistry).get(QUEUES.sandboxWechat);
      const job = await deliveries.getJob(`wechat-notify-${eventId}-0-0`);
      if (job) {
        expect(job.data.attempt).toBe(0);
        expect(await completedJobResult(deliveries, job.id!)).toEqual({ status: 200 });
      }
      for (const next of [1, 2]) expect(await deliveries.getJob(`wechat-notify-${eventId}-0-${next}`)).toBeUndefined();
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'wechat' } });
    }
    await expectClean();
  });

  it('refuses a notification signed with another key under the public key id, or under an id or certificate it does not know', async () => {
    const { publicKeyId } = await downloaded();
    const wechatKey = await wechatPrivateKey();
    const before = new Set(await storedEvents());

    const forgedIds = [randomUUID(), randomUUID(), randomUUID()];
    const forged = [
      await notify(undefined, notificationBody(forgedIds[0]), stranger.privateKey, publicKeyId),
      await notify(undefined, notificationBody(forgedIds[1]), wechatKey, UNKNOWN_KEY_ID),
      // The public key's pair under a platform certificate's serial: the certificate's key does not verify it.
      await notify(undefined, notificationBody(forgedIds[2]), wechatKey, '7A3F00000000000000000000000000000000BEEF'),
    ];
    for (const refused of forged) {
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('invalid_signature');
    }

    // The same notification signed as WeChat signs it is taken: the refusals are the key's and the id's.
    const genuineId = randomUUID();
    const genuine = await notify(undefined, notificationBody(genuineId), wechatKey, publicKeyId);
    expect(genuine.status).toBe(200);
    expect(genuine.body).toEqual({ received: true, duplicate: false });
    expect((await storedEvents()).filter((id) => !before.has(id))).toEqual([genuineId]);
  });

  describe('with the public key configured (WECHATPAY_PUBLIC_KEY_ID, WECHATPAY_PUBLIC_KEY)', () => {
    const others: TestApp[] = [];
    afterAll(async () => {
      for (const other of others) await other.close();
    });
    /** A second API process of the same deployment, configured with this public key and id. */
    const configured = async (publicKeyId: string, publicKeyPem: string) => {
      const other = await startTestApp(
        { ...settling, WECHAT_MOCK_SIGNING: 'public_key', WECHATPAY_PUBLIC_KEY_ID: publicKeyId, WECHATPAY_PUBLIC_KEY: publicKeyPem },
        test,
        { workers: false },
      );
      others.push(other);
      return other;
    };

    it('verifies answers and notifications with the configured key, and refuses another key or another id', async () => {
      const { publicKeyId, publicKey } = await downloaded();
      const strangerPem = stranger.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const [right, wrongKey, wrongId] = [
        // One line, as an .env file holds it.
        await configured(publicKeyId, publicKey.replace(/\n/g, '\\n')),
        await configured(publicKeyId, strangerPem),
        await configured(UNKNOWN_KEY_ID, publicKey),
      ];
      const wallets = [`wx_pk_${Date.now()}_a`, `wx_pk_${Date.now()}_b`];
      for (const [index, wallet] of wallets.entries()) {
        await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: wallet, balanceCny: index === 0 ? '10.00' : '0.00' } });
      }
      const transferId = await send(wallets[0], wallets[1], '1.00');

      expect(await right.app.get(WechatPayClient).getTransfer(transferId)).toMatchObject({ transferId, amountFen: 100n, state: 'SUCCESS' });
      for (const refusing of [wrongKey, wrongId]) {
        await expect(refusing.app.get(WechatPayClient).getTransfer(transferId)).rejects.toMatchObject({ status: 502, code: 'SIGN_ERROR' });
      }

      const wechatKey = await wechatPrivateKey();
      expect((await notify(right, notificationBody(), wechatKey, publicKeyId)).status).toBe(200);
      for (const refusing of [wrongKey, wrongId]) {
        const refused = await notify(refusing, notificationBody(), wechatKey, publicKeyId);
        expect(refused.status).toBe(401);
        expect(refused.body.code).toBe('invalid_signature');
      }
    });
  });
});
