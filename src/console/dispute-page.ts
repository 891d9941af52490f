import type { MessageView } from '../chat/dto/chat.dto';
import type { StatementView } from '../disputes/dto/disputes.dto';
import type { AdminUserView } from '../users/admin-users.service';
import type { DisputeFile } from './dispute-file.service';
import { actionForms, revealForm } from './dispute-forms';
import { reasonLabel, shortId, when } from './format';
import { html, SafeHtml } from './html';
import { ConsoleViewer, layout } from './layout';

/** A one-off message at the top of the page: what just happened, or a revealed handle. */
export type DisputeNotice = { kind: 'ok'; text: string } | { kind: 'reveal'; field: string; value: string };

export function disputePage(viewer: ConsoleViewer, file: DisputeFile, notice?: DisputeNotice): SafeHtml {
  const { dispute, trade } = file;
  const holder = dispute.assignedTo === viewer.operatorId ? 'you' : dispute.assignedTo ? shortId(dispute.assignedTo) : 'nobody';
  const body = html`<p><a href="/admin/disputes">← Disputes</a></p>
    <h1>Dispute: ${reasonLabel(dispute.reason)}</h1>
    ${noticeOf(notice)}
    <dl class="facts">
      <dt>Status</dt>
      <dd>${dispute.status}${dispute.outcome ? html` — ${dispute.outcome}` : ''}</dd>
      <dt>Opened</dt>
      <dd>${when(dispute.createdAt)} by ${dispute.openedBy.kind} ${shortId(dispute.openedBy.id)}</dd>
      <dt>Assigned to</dt>
      <dd>${holder}</dd>
      ${
        dispute.resolvedAt
          ? html`<dt>Resolved</dt>
              <dd>${when(dispute.resolvedAt)}</dd>`
          : ''
      }
      ${
        dispute.outcome === 'split'
          ? html`<dt>Split</dt>
              <dd>${dispute.travelerUsd} USD to the traveler, ${dispute.counterpartyUsd} USD to the counterparty</dd>`
          : ''
      }
      ${
        dispute.resolutionNote
          ? html`<dt>Note</dt>
              <dd class="statement">${dispute.resolutionNote}</dd>`
          : ''
      }
      <dt>Dispute id</dt>
      <dd class="mono">${dispute.id}</dd>
    </dl>

    <h2 id="trade">The trade</h2>
    <dl class="facts">
      <dt>Trade</dt>
      <dd class="mono"><a href="/admin/trades/${trade.id}">${trade.id}</a></dd>
      <dt>State</dt>
      <dd>${trade.state}${trade.settlementFailing ? html` <strong>(settlement failing)</strong>` : ''}</dd>
      <dt>Amount</dt>
      <dd>${trade.amountUsd} USD for ${trade.amountCny} CNY</dd>
      <dt>Rate</dt>
      <dd>${trade.rate} CNY per USD</dd>
      <dt>Fee</dt>
      <dd>${trade.feeUsd} USD</dd>
      <dt>Net to the counterparty</dt>
      <dd>${file.netToCounterpartyUsd} USD</dd>
      <dt>Payment method</dt>
      <dd>${trade.paymentMethod}</dd>
      <dt>Created</dt>
      <dd>${when(trade.createdAt)}</dd>
      ${file.references.map(
        (r) =>
          html`<dt>${r.name}</dt>
            <dd class="mono">${r.value}</dd>`,
      )}
    </dl>

    <h2 id="parties">Parties</h2>
    <div class="grid">${partyCard('Traveler', file.traveler)}${partyCard('Counterparty', file.counterparty)}</div>

    <h2 id="statements">Statements</h2>
    ${dispute.statements?.length ? dispute.statements.map(statementCard) : html`<p class="muted">No statements.</p>`}

    <h2 id="timeline">Timeline</h2>
    ${timelineTable(file)}

    <h2 id="chat">Trade chat</h2>
    ${chatSection(file)}

    <h2 id="reveal">Payment handles</h2>
    ${revealForm(viewer, dispute.id)}

    <h2 id="actions">Actions</h2>
    ${actionForms(viewer, file)}`;
  return layout({ title: `Dispute ${dispute.id.slice(0, 8)}`, viewer, section: 'disputes', body });
}

function noticeOf(notice: DisputeNotice | undefined): SafeHtml | string {
  if (!notice) return '';
  if (notice.kind === 'ok') return html`<div class="notice ok" role="status"><p>${notice.text}</p></div>`;
  return html`<div class="notice ok" role="status">
    <p>Revealed (recorded in the audit log): <strong>${notice.field}</strong> is <strong class="mono">${notice.value}</strong></p>
  </div>`;
}

/** A party in brief: the name and id, never the email (often the PayPal payout address): that is the user page's. */
function partyCard(label: string, user: AdminUserView): SafeHtml {
  const r = user.reputation;
  const counts = Object.entries(user.tradeCounts).map(([state, n]) => html`${state} ${n}`);
  return html`<section class="card" aria-label="${label}">
    <h3>${label}: <a href="/admin/users/${user.id}">${user.displayName}</a></h3>
    <dl class="facts">
      <dt>Id</dt>
      <dd class="mono">${user.id}</dd>
      <dt>Account</dt>
      <dd>tier ${user.tier}${user.suspended ? html`, <strong>suspended</strong>` : ''}, since ${when(user.createdAt)}</dd>
      <dt>Completed trades</dt>
      <dd>${r.completedTrades}${r.completionRate === null ? '' : html` (${Math.round(r.completionRate * 100)}% completion)`}</dd>
      <dt>Rating</dt>
      <dd>${r.ratingAverage === null ? 'none yet' : html`${r.ratingAverage} of 5 (${r.ratingCount})`}</dd>
      <dt>Disputes</dt>
      <dd>won ${user.disputes.won}, lost ${user.disputes.lost}</dd>
      <dt>Trades</dt>
      <dd>${counts.map((c, i) => html`${i > 0 ? ', ' : ''}${c}`)}</dd>
      <dt>Latest trades</dt>
      <dd>
        ${
          user.recentTrades.length === 0
            ? 'none'
            : html`<ul>
                ${user.recentTrades.slice(0, 5).map((t) => html`<li>${t.state}: ${t.amountUsd} USD as ${t.role}, ${when(t.createdAt)}</li>`)}
              </ul>`
        }
      </dd>
      ${user.flags.map(
        (f) =>
          html`<dt>Flag</dt>
            <dd><strong>${f.flag}</strong></dd>`,
      )}
      <dt>User id</dt>
      <dd class="mono">${user.id}</dd>
    </dl>
  </section>`;
}

function statementCard(statement: StatementView): SafeHtml {
  const attachments = statement.attachments.length
    ? html`<div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Evidence</th>
              <th scope="col">Type</th>
              <th scope="col" class="num">Bytes</th>
              <th scope="col">SHA-256</th>
            </tr>
          </thead>
          <tbody>
            ${statement.attachments.map(
              (a) =>
                html`<tr>
                  <td>${a.name ?? html`<span class="muted">(erased)</span>`}</td>
                  <td>${a.contentType}</td>
                  <td class="num">${a.sizeBytes}</td>
                  <td class="mono">${a.sha256}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`
    : '';
  return html`<article class="card">
    <p class="muted">${statement.author.kind} ${shortId(statement.author.id)} · ${when(statement.createdAt)}</p>
    ${statement.erased ? html`<p class="muted">(erased: its author deleted their account)</p>` : html`<p class="statement">${statement.text}</p>`}
    ${attachments}
  </article>`;
}

function timelineTable(file: DisputeFile): SafeHtml {
  return html`<div class="table-wrap">
    <table>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Who</th>
          <th scope="col">What</th>
          <th scope="col">State</th>
          <th scope="col">Detail</th>
        </tr>
      </thead>
      <tbody>
        ${file.timeline.map(
          (e) =>
            html`<tr>
              <td>${when(e.at)}</td>
              <td>${e.actor.kind} ${e.actor.id ? shortId(e.actor.id) : ''}</td>
              <td>${e.type}</td>
              <td>${e.fromState || e.toState ? html`${e.fromState ?? '—'} → ${e.toState ?? '—'}` : ''}</td>
              <td class="mono detail">${Object.keys(e.detail).length ? JSON.stringify(e.detail) : ''}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function chatSection(file: DisputeFile): SafeHtml {
  if (!file.chat) {
    return html`<p>
      <a href="/admin/disputes/${file.dispute.id}?chat=1#chat">Read the trade chat</a>
      <span class="muted">(each read is recorded in the audit log)</span>
    </p>`;
  }
  if (file.chat.messages.length === 0) return html`<p class="muted">The parties wrote no messages.</p>`;
  return html`<ol class="chat">
      ${file.chat.messages.map(messageItem)}
    </ol>
    ${file.chat.more ? html`<p class="muted">Only the first ${file.chat.messages.length} messages are shown.</p>` : ''}`;
}

const messageItem = (m: MessageView) =>
  html`<li>
    <span class="muted">${m.sender.kind} · ${when(m.at)}</span
    ><br />${m.erased ? html`<span class="muted">(erased)</span>` : html`<span class="statement">${m.text}</span>`}
  </li>`;
