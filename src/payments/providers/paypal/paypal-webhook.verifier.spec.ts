import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { selfSignedCertificate } from '../../../../test/support/other-certificate';
import { loadAppConfig, loadPaypalConfig, loadSandboxConfig } from '../../../config';
import { signedString, signTransmission } from './paypal-webhook-signature';
import { PaypalWebhookVerifier } from './paypal-webhook.verifier';

const SIGNER = selfSignedCertificate('paypal test', '01');
const PAYPAL_CERT = 'https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77';
const env = { NODE_ENV: 'test', PORT: '4100' };

function verifier(overrides: Record<string, string> = {}): PaypalWebhookVerifier {
  const all = { ...env, ...overrides };
  return new PaypalWebhookVerifier(loadPaypalConfig(all), loadAppConfig(all), loadSandboxConfig(all));
}

function signed(certUrl: string, body = JSON.stringify({ id: `WH-${randomUUID()}`, event_type: 'CHECKOUT.ORDER.APPROVED' })) {
  const id = randomUUID();
  const time = new Date().toISOString();
  const raw = Buffer.from(body);
  return {
    raw,
    headers: {
      'paypal-transmission-id': id,
      'paypal-transmission-time': time,
      'paypal-transmission-sig': signTransmission(SIGNER.key, signedString(id, time, 'WH-YB-SANDBOX', raw)),
      'paypal-auth-algo': 'SHA256withRSA',
      'paypal-cert-url': certUrl,
    },
  };
}

describe('PaypalWebhookVerifier', () => {
  let fetchSpy: jest.SpyInstance;

  // Refusals are logged at debug; the test reads the verdicts.
  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(() => {
    fetchSpy = jest.spyOn(global, 'fetch').mockImplementation(async () => new Response(SIGNER.cert, { status: 200 }));
  });

  afterEach(() => fetchSpy.mockRestore());

  it('accepts a signature by the certificate at a PayPal URL, fetched once for many webhooks', async () => {
    const subject = verifier();
    const first = signed(PAYPAL_CERT);
    const second = signed(PAYPAL_CERT);
    expect(await subject.verify(first.headers, first.raw)).toEqual({ ok: true });
    expect(await subject.verify(second.headers, second.raw)).toEqual({ ok: true });
    expect(fetchSpy).toHaveBeenCalledTimes(1);
    expect(fetchSpy.mock.calls[0][0]).toBe(PAYPAL_CERT);
    expect(fetchSpy.mock.calls[0][1]).toMatchObject({ redirect: 'error', signal: expect.any(AbortSignal) });
  });

  it('refuses before any fetch what it can check alone', async () => {
    const subject = verifier();
    const good = signed(PAYPAL_CERT);
    const cases: [Record<string, string>, Buffer, number?][] = [
      [{ ...good.headers, 'paypal-transmission-sig': '' }, good.raw],
      [{ ...good.headers, 'paypal-auth-algo': 'SHA1withRSA' }, good.raw],
      [good.headers, good.raw, Date.now() + 6 * 60 * 1000],
      [good.headers, Buffer.from('not json')],
      [good.headers, Buffer.from(JSON.stringify({ id: 'WH-1' }))],
    ];
    for (const [headers, raw, now] of cases) expect((await subject.verify(headers, raw, now)).ok).toBe(false);
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it('fetches certificates only from PayPal over https, or the mock under SANDBOX_BASE_URL in sandbox mode', async () => {
    const subject = verifier();
    for (const url of [
      'http://api.paypal.com/v1/notifications/certs/CERT-1',
      'https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1',
      'https://evil.example/v1/notifications/certs/CERT-1?https://api.paypal.com/v1/notifications/certs/',
      'https://api.paypal.com/v1/oauth2/token',
      'https://api.paypal.com/v1/notifications/certs/CERT-1?x=1',
      'https://api.paypal.com/v1/notifications/certs/CERT-1#x',
      'https://user@api.paypal.com/v1/notifications/certs/CERT-1',
      'https://api.paypal.com:8443/v1/notifications/certs/CERT-1',
      'https://api.paypal.com/v1/notifications/certs/a/../../../../admin',
      'http://127.0.0.1:6379/v1/notifications/certs/CERT-1',
      'http://127.0.0.1:4101/sandbox/paypal/v1/notifications/certs/CERT-mock-1',
      'http://localhost:4100/sandbox/paypal/v1/notifications/certs/CERT-mock-1',
      'file:///etc/passwd',
      'not a url',
    ]) {
      const webhook = signed(url);
      expect([url, await subject.verify(webhook.headers, webhook.raw)]).toEqual([url, { ok: false, reason: 'untrusted certificate URL' }]);
    }
    expect(fetchSpy).not.toHaveBeenCalled();

    const mock = 'http://127.0.0.1:4100/sandbox/paypal/v1/notifications/certs/CERT-mock-1';
    const webhook = signed(mock);
    expect(await subject.verify(webhook.headers, webhook.raw)).toEqual({ ok: true });
    // Outside sandbox mode the mock is no certificate source.
    expect(await verifier({ SANDBOX_MODE: 'false' }).verify(webhook.headers, webhook.raw)).toEqual({
      ok: false,
      reason: 'untrusted certificate URL',
    });
    const hosted = signed('https://sandbox.example/sandbox/paypal/v1/notifications/certs/CERT-mock-1');
    expect(await verifier({ SANDBOX_BASE_URL: 'https://sandbox.example' }).verify(hosted.headers, hosted.raw)).toEqual({ ok: true });
  });

  it("trusts PayPal sandbox's certificate hosts only for a sandbox account, and live PayPal's only for a live one", async () => {
    const sandboxCert = 'https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-sandbox-1';
    const toSandbox = signed(sandboxCert);
    expect(await verifier({ PAYPAL_BASE_URL: 'https://api-m.paypal.com' }).verify(toSandbox.headers, toSandbox.raw)).toEqual({
      ok: false,
      reason: 'untrusted certificate URL',
    });
    const sandboxAccount = verifier({ PAYPAL_BASE_URL: 'https://api-m.sandbox.paypal.com' });
    expect(await sandboxAccount.verify(toSandbox.headers, toSandbox.raw)).toEqual({ ok: true });
    const toLive = signed(PAYPAL_CERT);
    expect(await sandboxAccount.verify(toLive.headers, toLive.raw)).toEqual({ ok: false, reason: 'untrusted certificate URL' });
  });

  it('asks PayPal once for a certificate it could not have, however many webhooks name it meanwhile', async () => {
    fetchSpy.mockImplementation(async () => new Response('no', { status: 404 }));
    const subject = verifier();
    for (let i = 0; i < 5; i++) {
      const webhook = signed('https://api.paypal.com/v1/notifications/certs/CERT-made-up');
      expect(await subject.verify(webhook.headers, webhook.raw)).toEqual({ ok: false, reason: 'certificate unavailable' });
    }
    expect(fetchSpy).toHaveBeenCalledTimes(1);
  });

  it('tells no failure of the fetch from another: redirect, error status, oversized or unreadable body, network error', async () => {
    const answers = [
      async () => {
        throw new TypeError('fetch failed');
      },
      async () => new Response('moved', { status: 302, headers: { location: 'http://127.0.0.1/' } }),
      async () => new Response('no', { status: 404 }),
      async () => new Response('x'.repeat(64 * 1024), { status: 200 }),
      async () => new Response('not a certificate', { status: 200 }),
    ];
    for (const answer of answers) {
      fetchSpy.mockImplementationOnce(answer);
      const webhook = signed(PAYPAL_CERT);
      expect(await verifier().verify(webhook.headers, webhook.raw)).toEqual({ ok: false, reason: 'certificate unavailable' });
    }
  });
});
