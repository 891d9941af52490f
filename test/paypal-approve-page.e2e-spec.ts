import { DEV_PAYPAL_CLIENT_ID, DEV_PAYPAL_CLIENT_SECRET } from '../src/config';
import { paypalGet } from './support/paypal';
import { useTestApp } from './support/use-test-app';

/** The sandbox's checkout page as a buyer's browser sees it: the page, the form's post, and where it ends. */
describe('PayPal sandbox checkout page (HTTP)', () => {
  const { test, api } = useTestApp();
  const prefix = '/sandbox/paypal';

  async function createOrder(value: string, context: Record<string, string> = {}, description?: string): Promise<string> {
    const token = await api('POST', `${prefix}/v1/oauth2/token`, {
      rawBody: 'grant_type=client_credentials',
      headers: {
        authorization: `Basic ${Buffer.from(`${DEV_PAYPAL_CLIENT_ID}:${DEV_PAYPAL_CLIENT_SECRET}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
    });
    const created = await api('POST', `${prefix}/v2/checkout/orders`, {
      token: token.body.access_token,
      body: {
        intent: 'AUTHORIZE',
        purchase_units: [{ amount: { currency_code: 'USD', value }, ...(description ? { description } : {}) }],
        application_context: context,
      },
    });
    expect(created.status).toBe(201);
    return created.body.id;
  }

  /** The form's post as a browser sends it, redirects not followed. */
  const submitForm = (orderId: string, fields: Record<string, string> = {}) =>
    fetch(`${test.baseUrl}${prefix}/orders/${orderId}/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
    });

  it('serves a plain, self-contained page: the order, a labelled field, an Approve button, escaped text', async () => {
    const id = await createOrder('42.50', { cancel_url: 'https://shop.example/cancel' }, '<script>alert(1)</script> & more');
    const page = await api('GET', `${prefix}/checkoutnow?token=${id}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.text).toContain('<html lang="en">');
    expect(page.text).toContain('42.50 USD');
    expect(page.text).toContain('&#60;script&#62;alert(1)&#60;/script&#62; &#38; more');
    expect(page.text).not.toContain('<script');
    expect(page.text).toMatch(/<label for="payerEmail">/);
    expect(page.text).toContain(`action="${prefix}/orders/${id}/approve"`);
    expect(page.text).toContain('href="https://shop.example/cancel"');
    // Nothing loaded from anywhere: no stylesheet, script or image by URL (the cancel link is a link, not a load).
    expect(page.text).not.toMatch(/<(link|script|img)\b|src=|url\(/i);

    const unknown = await api('GET', `${prefix}/checkoutnow?token=NOSUCHORDER00000`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('text/html');
    expect(unknown.text).toContain('Order not found');
  });

  it('goes back to the return URL with the token and the payer id, the policy letting the form go there', async () => {
    const id = await createOrder('10.00', { return_url: 'https://shop.example/back?cart=7' });
    const page = await api('GET', `${prefix}/checkoutnow?token=${id}`);
    expect(page.headers.get('content-security-policy')).toContain("form-action 'self' https://shop.example;");

    const answer = await submitForm(id, { payerEmail: 'buyer@example.com' });
    expect(answer.status).toBe(303);
    const location = new URL(answer.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe('https://shop.example/back');
    expect(location.searchParams.get('cart')).toBe('7');
    expect(location.searchParams.get('token')).toBe(id);
    const order = await paypalGet(api, `/v2/checkout/orders/${id}`);
    expect(order).toMatchObject({ status: 'APPROVED', payer: { email_address: 'buyer@example.com' } });
    expect(location.searchParams.get('PayerID')).toBe(order.payer.payer_id);
  });

  it('without a return URL ends on a page saying the payment was approved, the payer escaped', async () => {
    const id = await createOrder('12.34', { return_url: 'javascript:alert(1)' });
    const page = await api('GET', `${prefix}/checkoutnow?token=${id}`);
    expect(page.headers.get('content-security-policy')).toContain("form-action 'self';");

    const answer = await submitForm(id, { payerEmail: '"><b>x</b>@example.com' });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toContain('text/html');
    const html = await answer.text();
    expect(html).toContain('<h1>Payment approved</h1>');
    expect(html).toContain('12.34 USD');
    expect(html).toContain('&#34;&#62;&#60;b&#62;x&#60;/b&#62;@example.com');
    expect(html).not.toContain('<b>x</b>');
    expect(() => JSON.parse(html)).toThrow();
    expect((await paypalGet(api, `/v2/checkout/orders/${id}`)).status).toBe('APPROVED');

    // An empty field is the default sandbox buyer; the page shows a second post plainly too.
    const other = await createOrder('1.00');
    expect(await (await submitForm(other, { payerEmail: '' })).text()).toContain('sandbox-buyer@example.com');
    const refused = await submitForm('NOSUCHORDER00000');
    expect(refused.status).toBe(404);
    expect(refused.headers.get('content-type')).toContain('text/html');
  });

  it('answers scripts posting JSON with JSON, a return URL or not', async () => {
    const id = await createOrder('5.00', { return_url: 'https://shop.example/back' });
    const answer = await api('POST', `${prefix}/orders/${id}/approve`, { body: { payerEmail: 'bot@example.com' } });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toContain('application/json');
    expect(answer.body).toEqual({ id, status: 'APPROVED' });
    const missing = await api('POST', `${prefix}/orders/NOSUCHORDER00000/approve`, { body: {} });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ name: 'RESOURCE_NOT_FOUND' });
  });
});
