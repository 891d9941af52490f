import type { ProblemBody } from '../../common/errors';
import type { Page } from '../../common/http/pagination';
import { formatAmount, parseAmount } from '../../common/money';
import type { TradeEventView, TradeView } from '../../trades/dto/trades.dto';
import { TRADE_STATES, type TradeState } from '../../trades/trade.state-machine';
import { pageNotice } from '../console-forms';
import { shortId, when } from '../format';
import { html, SafeHtml } from '../html';
import { ConsoleViewer, csrfField, layout } from '../layout';

export interface TradesFilter {
  state?: TradeState;
  settlementFailing?: boolean;
  /** Trades a page (the service's default when absent). */
  limit?: number;
}

/** The list's query string for a filter (and a cursor): what its links and its pager keep. */
export function tradesQuery(filter: TradesFilter, cursor?: string): string {
  const params = new URLSearchParams();
  if (filter.state) params.set('state', filter.state);
  if (filter.settlementFailing) params.set('failing', 'true');
  if (filter.limit) params.set('limit', String(filter.limit));
  if (cursor) params.set('cursor', cursor);
  const text = params.toString();
  return text ? `?${text}` : '';
}

const userLink = (id: string) => html`<a href="/admin/users/${id}">${shortId(id)}</a>`;

function disputeCell(trade: TradeView): SafeHtml {
  return trade.disputeId ? html`<a href="/admin/disputes/${trade.disputeId}">Dispute</a>` : html`<span class="muted">—</span>`;
}

/** Trades, newest first, by state and by failing settlement, a page at a time. */
export function tradesListPage(viewer: ConsoleViewer, filter: TradesFilter, page: Page<TradeView>, first: boolean): SafeHtml {
  const rows = page.data.map(
    (trade) =>
      html`<tr>
        <td><a href="/admin/trades/${trade.id}">${shortId(trade.id)}</a></td>
        <td>${trade.state}${trade.settlementFailing ? html` <strong class="field-error">settlement failing</strong>` : ''}</td>
        <td class="num">${trade.amountUsd} USD</td>
        <td class="num">${trade.amountCny} CNY</td>
        <td>${trade.paymentMethod}</td>
        <td>${userLink(trade.travelerId)}</td>
        <td>${userLink(trade.counterpartyId)}</td>
        <td>${disputeCell(trade)}</td>
        <td>${when(trade.createdAt)}</td>
      </tr>`,
  );
  const states = TRADE_STATES.map(
    (state) => html`<option value="${state}" ${state === filter.state ? html` selected` : ''}>${state}</option>`,
  );
  const form = html`<form method="get" action="/admin/trades" class="filters" aria-label="Filter trades">
    <p>
      <label for="state">State</label>
      <select id="state" name="state">
        <option value="">Any state</option>
        ${states}
      </select>
    </p>
    <p>
      <input type="checkbox" id="failing" name="failing" value="true" ${filter.settlementFailing ? html` checked` : ''} />
      <label for="failing">Settlement failing only</label>
    </p>
    ${filter.limit ? html`<input type="hidden" name="limit" value="${filter.limit}" />` : ''}
    <p><button type="submit">Show trades</button></p>
  </form>`;
  const table =
    rows.length === 0
      ? html`<p class="notice">No trades match.</p>`
      : html`<div class="table-wrap">
          <table>
            <caption class="muted">
              Newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">Trade</th>
                <th scope="col">State</th>
                <th scope="col" class="num">USD</th>
                <th scope="col" class="num">CNY</th>
                <th scope="col">Method</th>
                <th scope="col">Traveler</th>
                <th scope="col">Counterparty</th>
                <th scope="col">Dispute</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              ${rows}
            </tbody>
          </table>
        </div>`;
  const pager = html`<p class="pager">
    ${first ? '' : html`<a href="/admin/trades${tradesQuery(filter)}">First page</a>`}
    ${page.nextCursor ? html`<a href="/admin/trades${tradesQuery(filter, page.nextCursor)}" rel="next">Next page</a>` : ''}
  </p>`;
  return layout({
    title: 'Trades',
    viewer,
    section: 'trades',
    body: html`<h1>Trades</h1>
      ${form}${table}${pager}`,
  });
}

export const TRADE_DONE: Record<string, string> = {
  retried: 'Settlement tried again: the settlement job runs now (it keeps each step’s request id, so nothing is paid twice).',
};

/** One trade as operators see it: its facts, parties, dispute, the whole timeline, and the retry of its settlement. */
export function tradePage(
  viewer: ConsoleViewer,
  trade: TradeView,
  events: TradeEventView[],
  notice: { refusal?: ProblemBody; done?: string },
): SafeHtml {
  const net = formatAmount(parseAmount(trade.amountUsd, 'USD') - parseAmount(trade.feeUsd, 'USD'), 'USD');
  const deadlines = Object.entries(trade.deadlines).map(
    ([name, at]) =>
      html`<dt>${name}</dt>
        <dd>${when(at)}</dd>`,
  );
  const timeline = events.map(
    (event) =>
      html`<tr>
        <td>${when(event.at)}</td>
        <td>${event.actor.kind} ${event.actor.id ? userLink(event.actor.id) : ''}</td>
        <td>${event.type}</td>
        <td>${event.fromState ?? ''}${event.toState ? html` → ${event.toState}` : ''}</td>
        <td class="detail"><code>${Object.keys(event.detail).length > 0 ? JSON.stringify(event.detail) : ''}</code></td>
      </tr>`,
  );
  return layout({
    title: `Trade ${trade.id.slice(0, 8)}`,
    viewer,
    section: 'trades',
    body: html`<h1>Trade <span class="mono">${trade.id}</span></h1>
      ${pageNotice(notice.refusal, notice.done)}
      <div class="grid">
        <section class="card" aria-labelledby="facts">
          <h2 id="facts">Facts</h2>
          <dl class="facts">
            <dt>State</dt>
            <dd>${trade.state}${trade.settlementFailing ? html` <strong class="field-error">settlement failing</strong>` : ''}</dd>
            <dt>USD</dt>
            <dd>${trade.amountUsd}</dd>
            <dt>CNY</dt>
            <dd>${trade.amountCny}</dd>
            <dt>Rate</dt>
            <dd>${trade.rate}</dd>
            <dt>Fee</dt>
            <dd>${trade.feeUsd} USD</dd>
            <dt>Net to the counterparty</dt>
            <dd>${net} USD</dd>
            <dt>Payment method</dt>
            <dd>${trade.paymentMethod}</dd>
            <dt>Traveler</dt>
            <dd>${userLink(trade.travelerId)}</dd>
            <dt>Counterparty</dt>
            <dd>${userLink(trade.counterpartyId)}</dd>
            <dt>Dispute</dt>
            <dd>${disputeCell(trade)}</dd>
            <dt>Created</dt>
            <dd>${when(trade.createdAt)}</dd>
            <dt>Updated</dt>
            <dd>${when(trade.updatedAt)}</dd>
            ${deadlines}
          </dl>
        </section>
        <section class="card" aria-labelledby="settlement">
          <h2 id="settlement">Settlement</h2>
          <p>
            Tries a settling trade’s settlement again now, or the next payout or refund of an ended trade whose money came back. The service
            refuses any other trade.
          </p>
          <form method="post" action="/admin/trades/${trade.id}/retry-settlement">
            ${csrfField(viewer)}
            <button type="submit">Retry settlement…</button>
          </form>
        </section>
      </div>
      <h2>Timeline</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">At</th>
              <th scope="col">Actor</th>
              <th scope="col">Event</th>
              <th scope="col">State</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            ${timeline}
          </tbody>
        </table>
      </div>
      <p><a href="/admin/trades">All trades</a></p>`,
  });
}
