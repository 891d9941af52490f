import { HANDLE_FIELDS } from '../trades/handle-reveals.repository';
import type { DisputeFile } from './dispute-file.service';
import { shortId } from './format';
import { html, SafeHtml } from './html';
import { ConsoleViewer, csrfField, layout } from './layout';

const FIELD_LABELS: Record<(typeof HANDLE_FIELDS)[number], string> = {
  travelerWechatId: "Traveler's WeChat id",
  counterpartyWechatId: "Counterparty's WeChat id",
  counterpartyPaypalEmail: "Counterparty's PayPal email",
};
const NOTE_MAX = 2000;

/** The audited reveal of one payment handle: the reason is asked for, the value is shown after the post. */
export function revealForm(viewer: ConsoleViewer, disputeId: string): SafeHtml {
  return html`<form class="stack" method="post" action="/admin/disputes/${disputeId}/reveal">
    ${csrfField(viewer)}
    <label for="reveal-field">Handle</label>
    <select id="reveal-field" name="field">
      ${HANDLE_FIELDS.map((f) => html`<option value="${f}">${FIELD_LABELS[f]}</option>`)}
    </select>
    <label for="reveal-reason">Reason (kept in the audit log)</label>
    <textarea id="reveal-reason" name="reason" required maxlength="500"></textarea>
    <div><button type="submit" class="secondary">Reveal</button></div>
  </form>`;
}

const note = (id: string) =>
  html`<label for="${id}">Note (why; kept in the audit log and on the timeline)</label>
    <textarea id="${id}" name="note" required maxlength="${NOTE_MAX}"></textarea>`;

/** Assign, release, refund, split: each posts to a confirmation step first (resolutions), or straight (assign). */
export function actionForms(viewer: ConsoleViewer, file: DisputeFile): SafeHtml {
  const { dispute, trade } = file;
  if (dispute.status === 'resolved') return html`<p class="muted">Resolved: nothing left to do here.</p>`;
  const resolve = `/admin/disputes/${dispute.id}/resolve`;
  const assign =
    dispute.assignedTo === viewer.operatorId
      ? html`<p>You hold this dispute.</p>`
      : html`<form method="post" action="/admin/disputes/${dispute.id}/assign">
          ${csrfField(viewer)}
          <button type="submit">${dispute.assignedTo ? 'Take over from another operator' : 'Assign to me'}</button>
        </form>`;
  return html`${assign}
    <div class="actions">
      <form class="stack card" method="post" action="${resolve}" aria-labelledby="release-title">
        <h3 id="release-title">Release</h3>
        <p class="muted">
          ${trade.amountUsd} USD to the counterparty (${file.netToCounterpartyUsd} USD after the ${trade.feeUsd} USD fee).
        </p>
        ${csrfField(viewer)}<input type="hidden" name="outcome" value="release" />
        ${note('release-note')}
        <div><button type="submit">Release…</button></div>
      </form>
      <form class="stack card" method="post" action="${resolve}" aria-labelledby="refund-title">
        <h3 id="refund-title">Refund</h3>
        <p class="muted">${trade.amountUsd} USD back to the traveler.</p>
        ${csrfField(viewer)}<input type="hidden" name="outcome" value="refund" />
        ${note('refund-note')}
        <div><button type="submit">Refund…</button></div>
      </form>
      <form class="stack card" method="post" action="${resolve}" data-split-total="${trade.amountUsd}" aria-labelledby="split-title">
        <h3 id="split-title">Split</h3>
        <p class="muted">Two amounts above zero adding up to ${trade.amountUsd} USD.</p>
        ${csrfField(viewer)}<input type="hidden" name="outcome" value="split" />
        <label for="split-traveler">To the traveler (USD)</label>
        <input id="split-traveler" name="travelerUsd" type="text" inputmode="decimal" required autocomplete="off" />
        <label for="split-counterparty">To the counterparty (USD, before the fee)</label>
        <input id="split-counterparty" name="counterpartyUsd" type="text" inputmode="decimal" required autocomplete="off" />
        ${note('split-note')}
        <p class="field-error" data-split-message role="alert"></p>
        <div><button type="submit">Split…</button></div>
      </form>
    </div>`;
}

export interface Resolution {
  outcome: 'release' | 'refund' | 'split';
  note: string;
  travelerUsd?: string;
  counterpartyUsd?: string;
  /** The HMAC binding the confirmation to this decision (ConsoleCsrf.forDecision). */
  binding: string;
}

/** The confirmation step of a resolution: what will happen, in words, with [Confirm] and [Back]. */
export function confirmResolutionPage(viewer: ConsoleViewer, file: DisputeFile, decision: Resolution): SafeHtml {
  const { dispute, trade, traveler, counterparty } = file;
  const question =
    decision.outcome === 'release'
      ? html`Release ${trade.amountUsd} USD to ${counterparty.displayName} (the counterparty), ${file.netToCounterpartyUsd} USD after the
        fee?`
      : decision.outcome === 'refund'
        ? html`Refund ${trade.amountUsd} USD to ${traveler.displayName} (the traveler)?`
        : html`Split ${trade.amountUsd} USD: ${decision.travelerUsd} USD back to ${traveler.displayName} (the traveler) and
          ${decision.counterpartyUsd} USD to ${counterparty.displayName} (the counterparty, less the fee)?`;
  const body = html`<h1>Confirm: ${decision.outcome}</h1>
    <p class="notice">${question}</p>
    <p>Note: <span class="statement">${decision.note}</span></p>
    <form method="post" action="/admin/disputes/${dispute.id}/resolve">
      ${csrfField(viewer)}
      <input type="hidden" name="outcome" value="${decision.outcome}" />
      <input type="hidden" name="note" value="${decision.note}" />
      ${
        decision.outcome === 'split'
          ? html`<input type="hidden" name="travelerUsd" value="${decision.travelerUsd}" />
              <input type="hidden" name="counterpartyUsd" value="${decision.counterpartyUsd}" />`
          : ''
      }
      <input type="hidden" name="confirmed" value="yes" />
      <input type="hidden" name="binding" value="${decision.binding}" />
      <button type="submit">Confirm</button>
      <a class="button secondary" href="/admin/disputes/${dispute.id}#actions">Back</a>
    </form>`;
  return layout({ title: `Confirm ${decision.outcome}`, viewer, section: 'disputes', body });
}

/** Another operator holds the dispute: taking it over is asked once more (and audited as a takeover). */
export function confirmTakeoverPage(viewer: ConsoleViewer, disputeId: string, holder: string | null): SafeHtml {
  const body = html`<h1>Take over this dispute?</h1>
    <p class="notice">Operator ${shortId(holder)} holds this dispute. Taking it over is recorded in the audit log.</p>
    <form method="post" action="/admin/disputes/${disputeId}/assign">
      ${csrfField(viewer)}
      <input type="hidden" name="force" value="yes" />
      <button type="submit">Take it over</button>
      <a class="button secondary" href="/admin/disputes/${disputeId}">Back</a>
    </form>`;
  return layout({ title: 'Take over', viewer, section: 'disputes', body });
}
