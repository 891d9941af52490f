import type { ProblemBody } from '../../common/errors';
import type { AdminUserView } from '../../users/admin-users.service';
import { pageNotice } from '../console-forms';
import { shortId, when } from '../format';
import { html, SafeHtml } from '../html';
import { ConsoleViewer, csrfField, layout } from '../layout';

export const REASON_MAX = 500;
export const TIERS = [0, 1, 2] as const;

function lookupForm(query: string): SafeHtml {
  return html`<form method="get" action="/admin/users" class="stack" role="search">
    <label for="q">User id or email</label>
    <input type="text" id="q" name="q" value="${query}" required maxlength="320" autocomplete="off" />
    <p><button type="submit">Find user</button></p>
  </form>`;
}

/** The lookup: one field, an id or an email (users are also reached from the trades and disputes that name them). */
export function usersLookupPage(viewer: ConsoleViewer, query: string, refusal?: ProblemBody): SafeHtml {
  return layout({
    title: 'Users',
    viewer,
    section: 'users',
    body: html`<h1>Users</h1>
      ${pageNotice(refusal, undefined)} ${lookupForm(query)}
      <p class="muted">Each trade’s page links to its traveler and counterparty.</p>`,
  });
}

export const USER_DONE: Record<string, string> = {
  suspended: 'Suspended: from their next request the user may only act on their live trades.',
  unsuspended: 'Suspension lifted.',
  tier: 'Tier changed: the new limits apply from the next trade.',
};

function reasonField(id: string): SafeHtml {
  return html`<label for="${id}">Reason (kept in the audit log)</label>
    <textarea id="${id}" name="reason" required maxlength="${REASON_MAX}"></textarea>`;
}

/** A user as operators see them, and the suspension and tier forms (each asks to confirm before it acts). */
export function userPage(viewer: ConsoleViewer, user: AdminUserView, notice: { refusal?: ProblemBody; done?: string }): SafeHtml {
  const counts = Object.entries(user.tradeCounts).map(
    ([state, n]) =>
      html`<dt>${state}</dt>
        <dd>${n}</dd>`,
  );
  const recent = user.recentTrades.map(
    (t) =>
      html`<tr>
        <td><a href="/admin/trades/${t.id}">${shortId(t.id)}</a></td>
        <td>${t.role}</td>
        <td>${t.state}</td>
        <td class="num">${t.amountUsd} USD</td>
        <td class="num">${t.amountCny} CNY</td>
        <td>${when(t.createdAt)}</td>
      </tr>`,
  );
  const suspension = user.suspended
    ? html`<form method="post" action="/admin/users/${user.id}/unsuspend" class="stack">
        ${csrfField(viewer)} ${reasonField('unsuspend-reason')}
        <p><button type="submit">Lift suspension…</button></p>
      </form>`
    : html`<form method="post" action="/admin/users/${user.id}/suspend" class="stack">
        ${csrfField(viewer)} ${reasonField('suspend-reason')}
        <p><button type="submit" class="danger">Suspend…</button></p>
      </form>`;
  const tiers = TIERS.map((tier) => html`<option value="${tier}" ${tier === user.tier ? html` selected` : ''}>Tier ${tier}</option>`);
  const reputation = user.reputation;
  return layout({
    title: `User ${user.displayName}`,
    viewer,
    section: 'users',
    body: html`<h1>${user.displayName} <span class="muted">(${user.role})</span></h1>
      ${pageNotice(notice.refusal, notice.done)}
      <div class="grid">
        <section class="card" aria-labelledby="account">
          <h2 id="account">Account</h2>
          <dl class="facts">
            <dt>Id</dt>
            <dd class="mono">${user.id}</dd>
            <dt>Email</dt>
            <dd>${user.email}</dd>
            <dt>Role</dt>
            <dd>${user.role}</dd>
            <dt>Tier</dt>
            <dd>${user.tier}</dd>
            <dt>Status</dt>
            <dd>${user.suspended ? html`<strong class="field-error">suspended</strong>` : 'active'}</dd>
            <dt>WeChat wallet</dt>
            <dd>${user.wechatWalletSet ? 'on file' : 'none'}</dd>
            <dt>Payout account</dt>
            <dd>${user.payoutAccount?.method ?? 'none'}</dd>
            <dt>Created</dt>
            <dd>${when(user.createdAt)}</dd>
            <dt>Flags</dt>
            <dd>${user.flags.length === 0 ? 'none' : user.flags.map((f) => html`${f.flag} (${when(f.at)}) `)}</dd>
            <dt>Self-trade refusals</dt>
            <dd>${user.selfTradeRefusals.total}</dd>
          </dl>
        </section>
        <section class="card" aria-labelledby="reputation">
          <h2 id="reputation">Reputation and history</h2>
          <dl class="facts">
            <dt>Completed trades</dt>
            <dd>${reputation.completedTrades}</dd>
            <dt>Completion rate</dt>
            <dd>${reputation.completionRate ?? '—'}</dd>
            <dt>Rating</dt>
            <dd>${reputation.ratingAverage ?? '—'} (${reputation.ratingCount})</dd>
            <dt>Disputes won / lost</dt>
            <dd>${user.disputes.won} / ${user.disputes.lost}</dd>
            ${counts}
          </dl>
        </section>
      </div>
      <h2>Actions</h2>
      <div class="actions">
        <section class="card" aria-labelledby="suspension">
          <h3 id="suspension">${user.suspended ? 'Lift the suspension' : 'Suspend'}</h3>
          ${suspension}
        </section>
        <section class="card" aria-labelledby="tier-heading">
          <h3 id="tier-heading">Tier</h3>
          <form method="post" action="/admin/users/${user.id}/tier" class="stack">
            ${csrfField(viewer)}
            <label for="tier">New tier</label>
            <select id="tier" name="tier">
              ${tiers}
            </select>
            <p><button type="submit">Change tier…</button></p>
          </form>
        </section>
      </div>
      <h2>Recent trades</h2>
      ${
        recent.length === 0
          ? html`<p class="notice">No trades yet.</p>`
          : html`<div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Trade</th>
                    <th scope="col">Role</th>
                    <th scope="col">State</th>
                    <th scope="col" class="num">USD</th>
                    <th scope="col" class="num">CNY</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  ${recent}
                </tbody>
              </table>
            </div>`
      }`,
  });
}
