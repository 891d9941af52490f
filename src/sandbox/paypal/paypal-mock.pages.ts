import { formatAmount } from '../../common/money';
import { OrderRow } from './paypal-mock.rows';

/** Text for HTML, attribute values included: every character that could open markup becomes a reference. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A merchant's return or cancel URL, when it is one a browser may be sent to (http or https only). */
export function webUrl(text: string | null): URL | undefined {
  if (!text) return undefined;
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

// Inline on purpose: the pages ask for nothing from anywhere, this service included.
const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f5f7fa;color:#1b1f24}
main{max-width:32rem;margin:2rem auto;padding:1.5rem;background:#fff;border:1px solid #d0d7de;border-radius:8px}
h1{font-size:1.4rem;margin-top:0}dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}
label{display:block;font-weight:600;margin-top:1rem}input{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem}
button{font:inherit;margin-top:1rem;padding:.6rem 1.4rem;background:#0b57d0;color:#fff;border:0;border-radius:6px;cursor:pointer}
button:focus-visible,a:focus-visible,input:focus-visible{outline:3px solid #f0a000;outline-offset:2px}
.note{color:#57606a;font-size:.9rem}`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body></html>`;
}

function orderFacts(order: OrderRow): string {
  const description = order.purchase_units[0]?.description;
  return `<dl>
<dt>Order</dt><dd><code>${escapeHtml(order.id)}</code></dd>
<dt>Amount</dt><dd>${escapeHtml(formatAmount(BigInt(order.amount_cents), 'USD'))} USD</dd>
${typeof description === 'string' ? `<dt>For</dt><dd>${escapeHtml(description)}</dd>` : ''}
<dt>Status</dt><dd>${escapeHtml(order.status)}</dd>
</dl>`;
}

/** The page an order's approve link opens, as PayPal's checkout: the order, the payer, Approve (or Cancel). */
export function checkoutPage(order: OrderRow, approveAction: string): string {
  const cancel = webUrl(order.cancel_url);
  const form =
    order.status === 'CREATED'
      ? `<form method="post" action="${escapeHtml(approveAction)}">
<label for="payerEmail">PayPal account email <span class="note">(optional)</span></label>
<input id="payerEmail" name="payerEmail" type="email" autocomplete="email" placeholder="sandbox-buyer@example.com">
<button type="submit">Approve payment</button>
</form>
${cancel ? `<p><a href="${escapeHtml(cancel.toString())}">Cancel and return to the merchant</a></p>` : ''}`
      : '<p>This order has nothing to approve.</p>';
  return page(
    'Pay with PayPal (sandbox)',
    `<h1>PayPal sandbox checkout</h1>
<p class="note">A test payment: no money moves.</p>
${orderFacts(order)}
${form}`,
  );
}

/** Where the approval ends when the merchant gave no return URL. */
export function approvedPage(order: OrderRow): string {
  const payer = (order.payer as { email_address?: unknown } | null)?.email_address;
  return page(
    'Payment approved (PayPal sandbox)',
    `<h1>Payment approved</h1>
<p role="status">You approved this payment${typeof payer === 'string' ? ` as <strong>${escapeHtml(payer)}</strong>` : ''}. You can close this page and return to the merchant.</p>
${orderFacts(order)}`,
  );
}

/** A refusal of the page's form, in words rather than PayPal's JSON. */
export function refusedPage(title: string, detail: string): string {
  return page(`${title} (PayPal sandbox)`, `<h1>${escapeHtml(title)}</h1><p role="alert">${escapeHtml(detail)}</p>`);
}
