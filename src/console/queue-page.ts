import type { Page } from '../common/http/pagination';
import type { QueueItemView } from '../disputes/dto/disputes.dto';
import { age, reasonLabel, shortId } from './format';
import { html, SafeHtml } from './html';
import { ConsoleViewer, layout } from './layout';

export const QUEUE_TABS = [
  { key: 'open', label: 'Open' },
  { key: 'mine', label: 'Assigned to me' },
  { key: 'resolved', label: 'Resolved' },
] as const;
export type QueueTab = (typeof QUEUE_TABS)[number]['key'];

export function queueTabOf(value: unknown): QueueTab {
  return QUEUE_TABS.some((tab) => tab.key === value) ? (value as QueueTab) : 'open';
}

/** The dispute queue: one tab, oldest first, a page at a time (the service's cursor). */
export function queuePage(
  viewer: ConsoleViewer,
  { tab, limit, first }: { tab: QueueTab; limit?: number; first: boolean },
  page: Page<QueueItemView>,
): SafeHtml {
  const here = `/admin/disputes?status=${tab}${limit ? `&limit=${limit}` : ''}`;
  const rows = page.data.map(
    (item) =>
      html`<tr>
        <td class="num">${age(item.ageSeconds)}</td>
        <td><a href="/admin/disputes/${item.id}">${reasonLabel(item.reason)}</a></td>
        <td class="num">${item.trade.amountUsd} USD</td>
        <td class="num">${item.trade.amountCny} CNY</td>
        <td>${item.openedBy.kind} ${shortId(item.openedBy.id)}</td>
        <td>${item.assignedTo === viewer.operatorId ? 'you' : shortId(item.assignedTo)}</td>
        <td>${item.status === 'resolved' ? item.outcome : item.trade.state}</td>
      </tr>`,
  );
  const tabs = html`<nav aria-label="Queue">
    <ul class="tabs">
      ${QUEUE_TABS.map(
        (t) => html`<li><a href="/admin/disputes?status=${t.key}" ${t.key === tab ? html` aria-current="page"` : ''}>${t.label}</a></li>`,
      )}
    </ul>
  </nav>`;
  const table =
    rows.length === 0
      ? html`<p class="notice">No disputes here.</p>`
      : html`<div class="table-wrap">
          <table>
            <caption class="muted">
              Oldest first
            </caption>
            <thead>
              <tr>
                <th scope="col" class="num">Age</th>
                <th scope="col">Reason</th>
                <th scope="col" class="num">USD</th>
                <th scope="col" class="num">CNY</th>
                <th scope="col">Opened by</th>
                <th scope="col">Assignee</th>
                <th scope="col">${tab === 'resolved' ? 'Outcome' : 'Trade state'}</th>
              </tr>
            </thead>
            <tbody>
              ${rows}
            </tbody>
          </table>
        </div>`;
  const pager = html`<p class="pager">
    ${first ? '' : html`<a href="${here}">First page</a>`}
    ${page.nextCursor ? html`<a href="${here}&amp;cursor=${encodeURIComponent(page.nextCursor)}" rel="next">Next page</a>` : ''}
  </p>`;
  return layout({
    title: 'Disputes',
    viewer,
    section: 'disputes',
    body: html`<h1>Disputes</h1>
      ${tabs}${table}${pager}`,
  });
}
