import { createPrivateKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aes, Formatter, Rsa, Wechatpay } from 'wechatpay-axios-plugin';
import { DEV_WECHATPAY_APIV3_KEY, DEV_WECHATPAY_MCHID, DEV_WECHATPAY_MERCHANT_SERIAL } from '../src/config';
import { WechatMockService } from '../src/sandbox/wechat/wechat-mock.service';
import { authorizationHeader, nonce, requestMessage, rsaSign } from '../src/payments/providers/wechat/wechatpay-crypto';
import { client, Api } from './support/http';
import { eventually, startTestApp, TestApp } from './support/test-app';

interface Received {
  headers: Record<string, string>;
  body: string;
}

/**
 * The WeChat mock against wechatpay-axios-plugin, the community client that verifies every response: wallets
 * and transfers, the signed v3 query, the encrypted platform certificates, and notifications decrypted and
 * verified the way a merchant does.
 */
describe('WeChat mock conformance (wechatpay-axios-plugin)', () => {
  let test: TestApp;
  let api: Api;
  let receiver: Server;
  const received: Received[] = [];
  let refuseNext = 0;
  const keyFile = join(mkdtempSync(join(tmpdir(), 'yb-wechat-')), 'apiclient_key.pem');

  beforeAll(async () => {
    // A merchant's notify endpoint on loopback: it refuses the first deliveries when told to, as an outage would.
    receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ headers: request.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8') });
        if (refuseNext > 0) {
          refuseNext -= 1;
          response.writeHead(500, { 'content-type': 'application/json' }).end('{"code":"FAIL","message":"busy"}');
        } else response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    test = await startTestApp({
      WECHATPAY_MERCHANT_KEY_FILE: keyFile,
      WECHAT_MOCK_NOTIFY_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/notify`,
      WECHAT_MOCK_NOTIFY_SCHEDULE_MS: '100,100',
      OUTBOX_POLL_INTERVAL_MS: '50',
    });
    api = client(test.baseUrl);
  });

  afterAll(async () => {
    await test?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  async function platform() {
    const identity = await test.app.get(WechatMockService).platformIdentity();
    return { serial: identity.serial, certificate: identity.certificatePem };
  }

  /** Built synchronously: the client is a Proxy whose every property is an API path, `then` included, so it is never awaited. */
  function wxpay(known: { serial: string; certificate: string }, serial = DEV_WECHATPAY_MERCHANT_SERIAL, mchid = DEV_WECHATPAY_MCHID) {
    return new Wechatpay({
      baseURL: `${test.baseUrl}/sandbox/wechat/`,
      mchid,
      serial,
      privateKey: readFileSync(keyFile),
      certs: { [known.serial]: known.certificate },
    });
  }

  async function wallets() {
    const from = `wxfrom${Date.now()}${Math.floor(Math.random() * 1000)}`;
    const to = `wxto${Date.now()}${Math.floor(Math.random() * 1000)}`;
    expect((await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: from, balanceCny: '5000.00' } })).status).toBe(201);
    expect((await api('POST', '/sandbox/wechat/wallets', { body: { wechatId: to, balanceCny: '0.00' } })).body).toEqual({
      wechatId: to,
      balanceCny: '0.00',
    });
    return { from, to };
  }

  it('moves CNY between wallets atomically, and refuses an unknown wallet, an overdraft and bad amounts', async () => {
    const { from, to } = await wallets();
    const sent = await api('POST', '/sandbox/wechat/transfers', {
      body: { fromWechatId: from, toWechatId: to, amountCny: '1000.00', memo: 'trade' },
    });
    expect(sent.status).toBe(201);
    expect(sent.body.transferId).toMatch(/^\d{31}$/);
    expect((await api('GET', `/sandbox/wechat/wallets/${from}`)).body.balanceCny).toBe('4000.00');
    expect((await api('GET', `/sandbox/wechat/wallets/${to}`)).body.balanceCny).toBe('1000.00');

    const overdraft = await api('POST', '/sandbox/wechat/transfers', {
      body: { fromWechatId: to, toWechatId: from, amountCny: '1000.01' },
    });
    expect(overdraft.status).toBe(409);
    expect(overdraft.body.code).toBe('insufficient_amount');
    expect(
      (await api('POST', '/sandbox/wechat/transfers', { body: { fromWechatId: from, toWechatId: 'wxnobody00', amountCny: '1.00' } }))
        .status,
    ).toBe(404);
    expect((await api('POST', '/sandbox/wechat/transfers', { body: { fromWechatId: from, toWechatId: to, amountCny: 5 } })).status).toBe(
      400,
    );
    expect(
      (await api('POST', '/sandbox/wechat/transfers', { body: { fromWechatId: from, toWechatId: from, amountCny: '1.00' } })).status,
    ).toBe(400);
    // Twenty transfers at once of 300.00 from 4000.00: thirteen go through, the balance never goes negative.
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        api('POST', '/sandbox/wechat/transfers', { body: { fromWechatId: from, toWechatId: to, amountCny: '300.00' } }),
      ),
    );
    expect(results.map((r) => r.status).filter((status) => status !== 201 && status !== 409)).toEqual([]);
    expect(results.filter((r) => r.status === 201)).toHaveLength(13);
    expect(results.filter((r) => r.status === 409)).toHaveLength(7);
    expect((await api('GET', `/sandbox/wechat/wallets/${from}`)).body.balanceCny).toBe('100.00');
    expect((await api('GET', `/sandbox/wechat/wallets/${to}`)).body.balanceCny).toBe('4900.00');
  });

  it('moves CNY both ways between two wallets at once without a deadlock or a lost update', async () => {
    const { from, to } = await wallets();
    expect(
      (await api('POST', '/sandbox/wechat/transfers', { body: { fromWechatId: from, toWechatId: to, amountCny: '1000.00' } })).status,
    ).toBe(201);
    const both = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        api('POST', '/sandbox/wechat/transfers', {
          body:
            i % 2 ? { fromWechatId: from, toWechatId: to, amountCny: '10.00' } : { fromWechatId: to, toWechatId: from, amountCny: '10.00' },
        }),
      ),
    );
    expect(both.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 201));
    expect((await api('GET', `/sandbox/wechat/wallets/${from}`)).body.balanceCny).toBe('4000.00');
    expect((await api('GET', `/sandbox/wechat/wallets/${to}`)).body.balanceCny).toBe('1000.00');
  });

  it('answers the signed v3 query to a client that verifies every response, and refuses unsigned or forged requests', async () => {
    const { from, to } = await wallets();
    const since = new Date(Date.now() - 60_000).toISOString();
    const { transferId } = (
      await api('POST', '/sandbox/wechat/transfers', { body: { fromWechatId: from, toWechatId: to, amountCny: '1000.00' } })
    ).body;
    const wx = wxpay(await platform());
    const one = await wx.v3.walletTransfers._transfer_id_.get({ transfer_id: transferId });
    expect(one.data).toMatchObject({ transfer_id: transferId, from_wechat_id: from, to_wechat_id: to, amount: 100000, state: 'SUCCESS' });
    const listed = await wx.v3.walletTransfers.get({ params: { from_wechat_id: from, to_wechat_id: to, since } });
    expect(listed.data.data.map((t: { transfer_id: string }) => t.transfer_id)).toEqual([transferId]);
    await expect(wx.v3.walletTransfers._transfer_id_.get({ transfer_id: '100000000000000000000000000000' })).rejects.toMatchObject({
      response: { status: 404, data: { code: 'RESOURCE_NOT_EXISTS' } },
    });

    // The serial in lower case is the same certificate (another client sends it so).
    const lower = wxpay(await platform(), DEV_WECHATPAY_MERCHANT_SERIAL.toLowerCase());
    expect((await lower.v3.walletTransfers._transfer_id_.get({ transfer_id: transferId })).status).toBe(200);

    const unsigned = await api('GET', `/sandbox/wechat/v3/wallet-transfers/${transferId}`);
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.code).toBe('SIGN_ERROR');
    const unknownRoute = await api('GET', '/sandbox/wechat/v3/no-such-api');
    expect(unknownRoute.status).toBe(404);
    expect(unknownRoute.body).toEqual({ code: 'RESOURCE_NOT_EXISTS', message: expect.any(String) });
  });

  it('answers errors in WeChat’s shape: a missing parameter, an unknown merchant, and an outage', async () => {
    const { from } = await wallets();
    const known = await platform();
    const since = new Date(Date.now() - 60_000).toISOString();
    await expect(wxpay(known).v3.walletTransfers.get({ params: { from_wechat_id: from, since } })).rejects.toMatchObject({
      response: { status: 400, data: { code: 'PARAM_ERROR', message: expect.stringContaining('to_wechat_id') } },
    });
    // Signed properly, but with the key of a merchant id WeChat does not know.
    await expect(wxpay(known, DEV_WECHATPAY_MERCHANT_SERIAL, '1900009999').v3.certificates.get()).rejects.toMatchObject({
      response: { status: 401, data: { code: 'SIGN_ERROR', message: expect.any(String) } },
    });
    expect((await api('PUT', '/sandbox/faults', { body: { provider: 'wechat', down: true } })).status).toBe(200);
    try {
      for (const call of [
        () => wxpay(known).v3.certificates.get(),
        () => wxpay(known).v3.walletTransfers._transfer_id_.get({ transfer_id: '1' }),
      ]) {
        await expect(call()).rejects.toMatchObject({
          response: { status: 503, data: { code: 'SYSTEM_ERROR', message: expect.any(String) } },
        });
      }
    } finally {
      await api('PUT', '/sandbox/faults', { body: { provider: 'wechat' } });
    }
    expect((await wxpay(known).v3.certificates.get()).status).toBe(200);
  });

  it('checks the merchant signature itself: the prefix-stripped URL form signs too; a stale time or another key does not', async () => {
    const { from, to } = await wallets();
    const { transferId } = (
      await api('POST', '/sandbox/wechat/transfers', { body: { fromWechatId: from, toWechatId: to, amountCny: '1.00' } })
    ).body;
    const path = `/v3/wallet-transfers/${transferId}`;
    const signed = (url: string, key: KeyObject | Buffer, timestamp = Math.floor(Date.now() / 1000).toString()) => {
      const nonceStr = nonce();
      return authorizationHeader({
        mchid: DEV_WECHATPAY_MCHID,
        nonce_str: nonceStr,
        timestamp,
        serial_no: DEV_WECHATPAY_MERCHANT_SERIAL,
        signature: rsaSign(key instanceof KeyObject ? key : createPrivateKey(key), requestMessage('GET', url, timestamp, nonceStr, '')),
      });
    };
    const get = (authorization: string) => api('GET', `/sandbox/wechat${path}`, { headers: { authorization } });
    const merchantKey = readFileSync(keyFile);
    expect((await get(signed(`/sandbox/wechat${path}`, merchantKey))).status).toBe(200);
    expect((await get(signed(path, merchantKey))).status).toBe(200);
    const stale = await get(signed(path, merchantKey, Math.floor(Date.now() / 1000 - 600).toString()));
    expect(stale.status).toBe(401);
    expect(stale.body.code).toBe('SIGN_ERROR');
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect((await get(signed(path, otherKey))).status).toBe(401);
  });

  it('signs with the platform key: a client holding another certificate under that serial refuses the answer', async () => {
    const { serial } = await platform();
    const { certificate: otherCertificate } = await import('./support/other-certificate').then((m) => m.makeOtherCertificate());
    const wx = wxpay({ serial, certificate: otherCertificate });
    await expect(wx.v3.certificates.get()).rejects.toThrow(/Verify the response's data with/);
    // With the real certificate the same call verifies.
    expect((await wxpay(await platform()).v3.certificates.get()).status).toBe(200);
  });

  it('serves the platform certificates encrypted with the APIv3 key', async () => {
    const { serial, certificate } = await platform();
    const listed = await wxpay({ serial, certificate }).v3.certificates.get();
    const [entry] = listed.data.data;
    expect(entry.serial_no).toBe(serial);
    const { nonce, associated_data, ciphertext } = entry.encrypt_certificate;
    expect(Aes.AesGcm.decrypt(ciphertext, DEV_WECHATPAY_APIV3_KEY, nonce, associated_data)).toBe(certificate);
  });

  it('notifies signed and encrypted, and retries on its schedule until the merchant answers 2xx', async () => {
    const { from, to } = await wallets();
    received.length = 0;
    refuseNext = 2;
    const { transferId } = (
      await api('POST', '/sandbox/wechat/transfers', { body: { fromWechatId: from, toWechatId: to, amountCny: '88.88' } })
    ).body;
    await eventually(async () => received.length === 3);
    const { certificate } = await platform();
    for (const delivery of received) {
      const h = delivery.headers;
      expect(h['wechatpay-signature-type']).toBe('WECHATPAY2-SHA256-RSA2048');
      expect(
        Rsa.verify(
          Formatter.response(h['wechatpay-timestamp'], h['wechatpay-nonce'], delivery.body),
          h['wechatpay-signature'],
          certificate,
        ),
      ).toBe(true);
      const notification = JSON.parse(delivery.body);
      expect(notification).toMatchObject({ resource_type: 'encrypt-resource', event_type: 'WALLET_TRANSFER.SUCCESS' });
      // WeChat writes its times in Beijing time, to the second, with the offset.
      expect(notification.create_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
      expect(Math.abs(new Date(notification.create_time).getTime() - Date.now())).toBeLessThan(60_000);
      const { ciphertext, nonce, associated_data } = notification.resource;
      expect(JSON.parse(Aes.AesGcm.decrypt(ciphertext, DEV_WECHATPAY_APIV3_KEY, nonce, associated_data))).toMatchObject({
        transfer_id: transferId,
        amount: 8888,
        state: 'SUCCESS',
      });
    }
    // One notification, three attempts (two refused), each signed afresh.
    expect(new Set(received.map((r) => JSON.parse(r.body).id)).size).toBe(1);
    expect(new Set(received.map((r) => r.headers['wechatpay-nonce'])).size).toBe(3);
    const tampered = received[0].body.replace('WALLET_TRANSFER', 'WALLET_TRANSFEX');
    const h = received[0].headers;
    expect(
      Rsa.verify(Formatter.response(h['wechatpay-timestamp'], h['wechatpay-nonce'], tampered), h['wechatpay-signature'], certificate),
    ).toBe(false);
  });
});
