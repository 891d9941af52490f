import { html, SafeHtml } from './html';

/** How long ago, in the largest two units: "2 d 3 h", "5 h 12 min", "40 s". */
export function age(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min`;
  return `${s} s`;
}

/** A timestamp as UTC, to the second, machine-readable in its <time> element. */
export function when(iso: string | null | undefined): SafeHtml {
  if (!iso) return html`<span class="muted">—</span>`;
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')} UTC</time>`;
}

/** An id shown short (its first block), whole in its title. */
export function shortId(id: string | null | undefined): SafeHtml {
  if (!id) return html`<span class="muted">—</span>`;
  return html`<span class="mono" title="${id}">${id.slice(0, 8)}</span>`;
}

export const REASON_LABELS: Record<string, string> = {
  rmb_not_received: 'RMB not received',
  wrong_amount: 'Wrong amount',
  payment_not_released: 'Payment not released',
  fraud_suspected: 'Fraud suspected',
  verification_failed: 'Verification failed',
  other: 'Other',
};

export const reasonLabel = (reason: string) => REASON_LABELS[reason] ?? reason;
